"""The engine's release build on the controller runs its tools (npm, pip) with a minimal environment, telemetry
off, and leaves no process behind (IBM's telemetry, started by the frontend's @carbon packages, outlived builds)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest


def test_build_tools_get_a_minimal_environment_with_telemetry_off(
    build_release: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "canary-token")
    monkeypatch.setenv("ANSIBLE_CONFIG", "/somewhere/ansible.cfg")
    monkeypatch.setenv("npm_config_registry", "https://registry.example/")
    out = tmp_path / "env.json"
    build_release.run(sys.executable, "-c", f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))")
    env = json.loads(out.read_text(encoding="utf-8"))
    assert "HCLOUD_TOKEN" not in env and "ANSIBLE_CONFIG" not in env
    assert env["IBM_TELEMETRY_DISABLED"] == "true" and env["npm_config_update_notifier"] == "false"
    assert env["npm_config_registry"] == "https://registry.example/"  # the controller's registry settings stay
    assert env["PATH"] == os.environ["PATH"]


def test_nothing_a_build_tool_started_outlives_it(build_release: ModuleType, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # A tool that leaves a background process running, as the telemetry did.
    build_release.run("sh", "-c", f"sleep 300 & echo $! > {pid_file}")
    pid = int(pid_file.read_text(encoding="utf-8"))
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the background process {pid} survived the build step")
