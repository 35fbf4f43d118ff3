"""Every service egov6 runs or installs is sandboxed by systemd (BSI SYS.1.3.A12): `systemd-analyze security`
rates each unit's exposure 0 (closed) to 10 (open); egov6's goal is at most 3.0 ("OK") for every one of them,
Debian's units with egov6's drop-ins included (bench/sandbox.py prints the figures before and after)."""

from __future__ import annotations

import re
from typing import Any

import pytest

LIMIT = 3.0
UNITS = {
    "cloud": [
        "nginx",
        "php8.2-fpm",
        "postgresql@15-main",
        "redis-server",
        "nextcloud-cron",
        "nextcloud-clubs-mail",
        "egov6-provision@probe",
    ],
    "flow": ["nginx", "postgresql@15-main", "spiffworkflow-backend", "spiffworkflow-scheduler"],
}


def _units(inventory_vars: dict[str, Any]) -> list[str]:
    groups = inventory_vars["group_names"]
    units = [unit for role, names in UNITS.items() if role in groups for unit in names]
    if "cloud" in groups and inventory_vars.get("coturn_enabled"):
        units.append("coturn")
    return sorted(set(units))


def test_every_service_unit_is_sandboxed(host: Any, inventory_vars: dict[str, Any]) -> None:
    units = _units(inventory_vars)
    if not units:
        pytest.skip("no egov6 service runs on this host (base role only)")
    scores = {}
    for unit in units:
        with host.sudo():
            out = host.check_output(f"systemd-analyze security --no-pager {unit}.service")
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        assert match, out[-300:]
        scores[unit] = float(match.group(1))
    too_open = {unit: score for unit, score in scores.items() if score > LIMIT}
    assert too_open == {}, f"exposure above {LIMIT}: {too_open}"
