"""Role contracts: every default is documented, and argument_specs and READMEs match the defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "playbooks" / "roles").iterdir() if p.is_dir())


def test_role_docs_are_generated_from_the_current_defaults() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_role_has_its_contract_and_prefixed_variables() -> None:
    for role in ROLES:
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {}
        spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        options = spec["argument_specs"]["main"]["options"]
        assert list(options) == list(defaults), role.name
        assert all(name.startswith(f"{role.name}_") for name in defaults), role.name
        assert (role / "README.md").read_text(encoding="utf-8").count("`" + next(iter(defaults)) + "`") >= 1


def _tasks(value: object) -> list[dict[str, object]]:
    """Every task of a task file, blocks and rescues included."""
    found: list[dict[str, object]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            found.append(item)
            for key in ("block", "rescue", "always"):
                found += _tasks(item.get(key))
    return found


def test_no_value_becomes_shell_code() -> None:
    """No shell task takes a templated value; a fixed `sh -c` script gets its values as arguments ($1 …)."""
    found = []
    files = sorted((ROOT / "playbooks").rglob("tasks/*.yml")) + sorted((ROOT / "playbooks").rglob("handlers/*.yml"))
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            shell = task.get("ansible.builtin.shell")
            if shell is not None:
                cmd = str(shell.get("cmd", "") if isinstance(shell, dict) else shell)
                found += [(path.name, value) for value in re.findall(r"\{\{(.*?)\}\}", cmd)]
            command = task.get("ansible.builtin.command")
            argv = command.get("argv") if isinstance(command, dict) else None
            if isinstance(argv, list) and len(argv) > 2 and argv[0] in ("sh", "bash") and argv[1] == "-c":
                found += [(path.name, value) for value in re.findall(r"\{\{(.*?)\}\}", str(argv[2]))]
    assert found == [], found


def test_every_admin_key_type_the_schema_accepts_is_one_sshd_accepts() -> None:
    """A key type the stack file may declare but the hardened sshd refuses would lock the admin out."""
    from egov6.config.schema import SSH_KEY_TYPES

    defaults = yaml.safe_load((ROOT / "playbooks/roles/base/defaults/main.yml").read_text(encoding="utf-8"))
    template = (ROOT / "playbooks/roles/base/templates/etc/ssh/sshd_config.d/10-egov6.conf.j2").read_text("utf-8")
    accepted_line = next(line for line in template.splitlines() if line.startswith("PubkeyAcceptedAlgorithms"))
    accepted = set(defaults["base_ssh_host_key_algorithms"]) | set(re.findall(r"'([a-z0-9@.-]+)'", accepted_line))
    # An ssh-rsa key signs with rsa-sha2-256/512; every other type signs with its own name.
    signatures = {"ssh-rsa": {"rsa-sha2-256", "rsa-sha2-512"}}
    refused = [t for t in SSH_KEY_TYPES if not signatures.get(t, {t}) & accepted]
    assert refused == []
