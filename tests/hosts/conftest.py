"""Host tests (pytest-testinfra) run by `egov6 verify STACK` against the generated inventory.

Expected values come from the inventory (which the topology generated), never from a second copy here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest


def _plain(value: Any) -> Any:
    """ansible-inventory marks the inventory's !unsafe strings as {"__ansible_unsafe": text} in its JSON."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.fixture
def inventory_vars(host: Any) -> dict[str, Any]:
    """The host's variables as the playbooks saw them (hosts.yml + group_vars)."""
    return dict(_plain(host.ansible.get_variables()))


@pytest.fixture
def lab_skips(host: Any) -> dict[str, str]:
    """What the roles recorded as impossible on this host (container, no app store), with the reason."""
    found: dict[str, str] = {}
    listing = host.run("ls /etc/egov6/skipped.d/*.json 2>/dev/null")
    for path in listing.stdout.split():
        found.update(json.loads(host.file(path).content_string))
    return found


def skip_if_unsupported(skips: dict[str, str], concern: str) -> None:
    if concern in skips:
        pytest.skip(f"{concern}: {skips[concern]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a target these checks would probe the controller itself: they run through `egov6 verify`."""
    if config.getoption("hosts", None) or config.getoption("ansible_inventory", None):
        return
    reason = "host tests need a target: run them with `egov6 verify STACK`"
    for item in items:
        if "tests/hosts" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))
