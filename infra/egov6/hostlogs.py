"""Keeps the services' own logs of a failed verify on the controller, so that a failure can be read afterwards
(CI keeps `.egov6/`), also once the lab is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from egov6.runner import ansible_env

# host group → log files worth keeping when a host test fails
SERVICE_LOGS = {"cloud": ["/var/log/nextcloud/nextcloud.log"]}


def keep_service_logs(inventory: Path, dest: Path) -> list[Path]:
    """Fetches each group's service logs into DEST/<host>/<path>; returns what arrived. Never raises."""
    dest.mkdir(parents=True, exist_ok=True)
    ansible = Path(sys.executable).parent / "ansible"
    for group, paths in SERVICE_LOGS.items():
        for path in paths:
            subprocess.run(
                [str(ansible), group, "-i", str(inventory), "--become", "-m", "ansible.builtin.fetch",
                 "-a", f"src={path} dest={dest}/ fail_on_missing=false"],
                env={**os.environ, **ansible_env()}, capture_output=True, check=False, timeout=120,
            )  # fmt: skip
    return sorted(p for p in dest.rglob("*") if p.is_file())
