"""Secrets stay out of sight during a converge (marked `lab`): no generated secret and no secret of the controller's
environment appears in a process's argument list on the controller or any lab host while the converge runs, nor
anywhere in ansible-runner's files (events, command, stdout), which are root-only and kept for a few runs.

Run first among the lab tests, right after `egov6 up lab`: the artifacts then still hold the lab's first converge,
the one that generated and installed every secret.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from egov6.cli.lab import converge_stack
from egov6.config import load_stack
from egov6.lab.paths import LabPaths
from egov6.runner import KEPT_RUNS
from egov6.topology import build_topology

pytestmark = pytest.mark.lab
STACK = "lab"
# Stand-ins for what an admin's shell holds during a cloud converge; none of it may reach Ansible.
CANARIES = {
    "HCLOUD_TOKEN": "egov6canaryHcloudToken7f3a9c1e5b",
    "EGOV6_FLOW_OIDC_CLIENT_SECRET": "egov6canaryOidcSecret2b8d4f6a0c",
    "PULUMI_CONFIG_PASSPHRASE": "egov6canaryPulumiPassphrase9e1c",
}


class ProcessSampler(threading.Thread):
    """Reads every process's argument list on the controller and on each lab host, over and over."""

    def __init__(self, hosts: list[str], ssh_config: Path) -> None:
        super().__init__(daemon=True)
        self.hosts, self.ssh_config = hosts, ssh_config
        self.lines: set[str] = set()
        self.rounds = 0
        self.done = threading.Event()

    def _sample(self, argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        self.lines.update(done.stdout.splitlines())

    def run(self) -> None:
        while not self.done.is_set():
            self._sample(["ps", "-eo", "args", "--no-headers"])
            for host in self.hosts:
                self._sample(["ssh", "-F", str(self.ssh_config), host, "ps -eo args --no-headers"])
            self.rounds += 1


def _generated_secrets() -> dict[str, str]:
    folder = LabPaths(STACK).local / "secrets"
    return {path.name: path.read_text(encoding="utf-8").strip() for path in folder.iterdir() if path.is_file()}


def test_a_converge_keeps_secrets_off_argument_lists_and_out_of_run_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    paths = LabPaths(STACK)
    hosts = [h.name for h in build_topology(load_stack(STACK), STACK).hosts]
    sampler = ProcessSampler(hosts, paths.ssh_config)
    sampler.start()
    try:
        converge_stack(STACK)
    finally:
        sampler.done.set()
        sampler.join(timeout=120)
    secrets = {**_generated_secrets(), **CANARIES}
    assert len(secrets) > len(CANARIES), "the lab generated no secrets"
    assert sampler.rounds >= 5, f"only {sampler.rounds} samples of the process lists"
    seen = [(name, line[:120]) for line in sampler.lines for name, value in secrets.items() if value in line]
    assert seen == [], f"secrets in argument lists: {seen}"

    runner = paths.local / "runner"
    runs = sorted((runner / "artifacts").iterdir())
    assert 1 <= len(runs) <= KEPT_RUNS
    assert all(run.stat().st_mode & 0o077 == 0 for run in [runner, *runs]), "run artifacts are not root-only"
    assert not (runner / "env").exists(), "ansible-runner's env folder (the whole environment) is back"
    leaks = [
        (name, str(file.relative_to(runner)))
        for file in runner.rglob("*")
        if file.is_file()
        for name, value in secrets.items()
        if value.encode() in file.read_bytes()
    ]
    assert leaks == [], f"secrets in run artifacts: {leaks[:10]}"
