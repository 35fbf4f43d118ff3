"""Writes each role's contract from its defaults: meta/argument_specs.yml and the README's variable table.

The comment lines right above a variable in defaults/main.yml are its description; the role README keeps
everything above the "## Variables" heading (written by hand) and gets the table below it regenerated.
Run it after changing defaults: `.venv/bin/python scripts/role_docs.py`; `--check` fails when a file is stale
(the unit tests run that).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parent.parent / "playbooks" / "roles"
HEADING = "## Variables"


class _Indented(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def described_defaults(role: Path) -> list[tuple[str, Any, str]]:
    text = (role / "defaults" / "main.yml").read_text(encoding="utf-8")
    values = yaml.safe_load(text) or {}
    comments: list[str] = []
    found = []
    for line in text.splitlines():
        if line.startswith("# "):
            comments.append(line[2:].strip())
        elif line and not line[0].isspace() and ":" in line and not line.startswith(("-", "#")):
            name = line.split(":", 1)[0]
            if name in values:
                found.append((name, values[name], " ".join(comments)))
            comments = []
        elif not line.strip():
            comments = []
    missing = [name for name, _, description in found if not description]
    if missing:
        raise SystemExit(f"{role.name}: defaults without a description comment: {', '.join(missing)}")
    return found


def _type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}[type(value)]


def argument_specs(role: Path, summary: str) -> str:
    options = {}
    for name, value, description in described_defaults(role):
        option: dict[str, Any] = {"type": _type(value), "description": description, "default": value}
        if isinstance(value, list) and value:  # an empty default leaves the element type open
            option["elements"] = "dict" if any(isinstance(v, dict) for v in value) else "str"
        options[name] = option
    spec = {"argument_specs": {"main": {"short_description": summary, "options": options}}}
    head = "---\n# The role's contract (generated from defaults/main.yml by scripts/role_docs.py).\n"
    return head + yaml.dump(spec, Dumper=_Indented, sort_keys=False, width=110, allow_unicode=True)


def variables_table(role: Path) -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, value, description in described_defaults(role):
        shown = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
        shown = shown.replace("|", "\\|")
        if len(shown) > 50:
            shown = "see defaults/main.yml"
        rows.append(f"| `{name}` | `{shown}` | {description} |")
    return "\n".join(rows)


def render(role: Path) -> dict[Path, str]:
    readme = role / "README.md"
    text = readme.read_text(encoding="utf-8")
    if HEADING not in text:
        raise SystemExit(f"{readme}: no '{HEADING}' heading")
    head, _, tail = text.partition(HEADING)
    rest = tail.split("\n## ", 1)
    after = f"\n## {rest[1]}" if len(rest) > 1 else ""
    summary = head.splitlines()[2].strip() if len(head.splitlines()) > 2 else role.name
    intro = "\nThe contract is `meta/argument_specs.yml` (generated from `defaults/main.yml`).\n\n"
    return {
        readme: f"{head}{HEADING}\n{intro}{variables_table(role)}\n{after}".rstrip("\n") + "\n",
        role / "meta" / "argument_specs.yml": argument_specs(role, summary.rstrip(".")),
    }


def main() -> None:
    check = "--check" in sys.argv
    stale = []
    for role in sorted(p for p in ROLES.iterdir() if (p / "defaults" / "main.yml").is_file()):
        for path, content in render(role).items():
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
            if current != content:
                stale.append(str(path.relative_to(ROLES.parent.parent)))
                if not check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(content, encoding="utf-8")
    if check and stale:
        raise SystemExit(f"stale role docs (run scripts/role_docs.py): {', '.join(stale)}")
    print("\n".join(f"wrote {p}" for p in stale) if stale else "role docs are up to date")


if __name__ == "__main__":
    main()
