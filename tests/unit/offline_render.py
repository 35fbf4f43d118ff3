"""Renders the roles' templates offline, the way Ansible renders them on a converge: the generated inventory loaded
by Ansible's own loader (so `!unsafe` and template trust apply as they would), the roles' defaults and vars, and
Ansible's templating engine with its lookups and filters. No host, no SSH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, is_trusted_as_template, trust_as_template

from egov6.config.loader import repo_root

init_plugin_loader()
_loader = DataLoader()
ROLES = repo_root() / "playbooks" / "roles"


def load_vars(path: Path) -> dict[str, Any]:
    """A vars file exactly as Ansible's group_vars plugin loads it."""
    if not path.is_file():
        return {}
    return dict(_loader.load_from_file(str(path), cache="none", unsafe=True, trusted_as_template=True) or {})


def host_vars(inventory: Path, group: str, roles: list[str], secrets: Path) -> dict[str, Any]:
    """What a host of ``group`` sees: role defaults and vars, then the inventory's group_vars (all, group)."""
    found: dict[str, Any] = {"ansible_managed": "Ansible managed", "inventory_hostname": f"{group}1"}
    for role in roles:
        found.update(load_vars(ROLES / role / "defaults" / "main.yml"))
        found.update(load_vars(ROLES / role / "vars" / "main.yml"))
    found.update(load_vars(inventory / "group_vars" / "all" / "egov6.yml"))
    found.update(load_vars(inventory / "group_vars" / group / "egov6.yml"))
    found["egov6_secrets_dir"] = str(secrets)  # lookups write generated secrets there, as on the controller
    found["egov6_private_ip"] = "10.0.0.10"
    return found


def render_text(text: str, variables: dict[str, Any], **extra: Any) -> str:
    """Renders template text from the repo (trusted, as Ansible trusts a role's templates)."""
    templar = Templar(loader=_loader, variables={**variables, **extra})
    return str(templar.template(trust_as_template(text)))


def render(template: Path, variables: dict[str, Any], **extra: Any) -> str:
    return render_text(template.read_text(encoding="utf-8"), variables, **extra)


def strings(value: Any) -> Iterator[str]:
    """Every string value (mapping keys are names egov6 chose, written plain)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def templated_strings(path: Path) -> list[str]:
    """Values of a generated inventory file that Ansible would still evaluate as templates (keys aside)."""
    data = load_vars(path)
    return [text for text in strings(data) if is_trusted_as_template(text)]
