"""The lab end to end (marked `lab`), run by the test command after `egov6 up lab` brought it up.

A host that dies during a converge, a second `up`, status, and collision checks. (Idempotence: a second admin's
converge changes nothing, in test_production_path.)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from egov6.cli.lab import converge_stack, lab_up
from egov6.cli.main import app
from egov6.config.loader import stack_path
from egov6.errors import Egov6Error
from egov6.inventory import inventory_dir
from egov6.lab.backend import LabBackend
from egov6.lab.paths import LabPaths
from egov6.runner import run_playbook
from egov6.topology import build_topology

pytestmark = pytest.mark.lab
runner = CliRunner()
STACK = "lab"


def _lab_document() -> dict[str, Any]:
    return dict(yaml.safe_load(stack_path(STACK).read_text(encoding="utf-8")))


def test_second_lab_up_keeps_the_running_hosts() -> None:
    backend, report = lab_up(STACK)
    assert report.created == [] and report.started == []
    assert sorted(report.kept) == sorted(h.name for h in backend.topology.hosts)


def test_status_lists_hosts_addresses_and_state() -> None:
    result = runner.invoke(app, ["lab", "status", STACK])
    assert result.exit_code == 0, result.output
    for name, address in (("egov6-lab-cloud1", "10.66.1.10"), ("egov6-lab-flow1", "10.66.1.11")):
        line = next(line for line in result.output.splitlines() if name in line)
        assert address in line and "running" in line


def test_host_stopped_during_converge_fails_naming_it_then_up_recovers() -> None:
    victim = "egov6-lab-flow1"
    backend = LabBackend(build_topology(_config(), STACK))
    stopped = threading.Event()

    def on_event(host: str, task: str, status: str, _totals: object) -> None:
        # Pull the plug once the run is under way on the victim (after its facts were gathered).
        if host == victim and status == "ok" and not stopped.is_set() and task != "Gathering Facts":
            stopped.set()
            threading.Thread(target=backend.stop_host, args=(victim,)).start()

    result = run_playbook(inventory_dir(STACK), artifacts=LabPaths(STACK).local / "runner", on_event=on_event)
    assert stopped.is_set(), "the run never reached the victim"
    assert result.failed_hosts == [victim]
    assert any(host == victim for host, _task, _msg in result.failures)
    others = [h for h in result.hosts if h != victim]
    assert others and all(result.hosts[h].failed == 0 for h in others)

    with pytest.raises(Egov6Error, match=victim):
        converge_stack(STACK)  # the CLI's converge names the host too

    status = {row.name: row.state for row in backend.status()}
    assert status[victim] == "stopped"
    again = runner.invoke(app, ["up", STACK])
    assert again.exit_code == 0, again.output[-3000:]
    assert {row.state for row in backend.status()} == {"running"}


def _config() -> Any:
    from egov6.config import load_stack

    return load_stack(STACK)


def _variant(tmp_path: Path, name: str, **lab: Any) -> Path:
    document = _lab_document()
    config = document["config"]
    config["egov6:lab"] = {**config["egov6:lab"], **lab.pop("lab_settings", {})}
    config.update({f"egov6:{k}": v for k, v in lab.items()})
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_bridge_name_collision_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    path = _variant(tmp_path, "collide-bridge", lab_settings={"bridge": "lo"},
                    network={"ip_range": "10.67.0.0/16", "subnet": "10.67.1.0/24"})  # fmt: skip
    result = runner.invoke(app, ["lab", "up", str(path)])
    assert result.exit_code == 1
    assert "'lo' already exists" in result.output
    assert not LabPaths("collide-bridge").state.exists()


def test_subnet_collision_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    path = _variant(tmp_path, "collide-subnet", lab_settings={"bridge": "br-egov6-x"})
    result = runner.invoke(app, ["lab", "up", str(path)])
    assert result.exit_code == 1
    assert "overlaps" in result.output and "br-egov6" in result.output
    assert not LabPaths("collide-subnet").state.exists()
    assert not Path("/sys/class/net/br-egov6-x").exists()


def _on_host(host: str, command: str) -> None:
    import subprocess

    subprocess.run(["ssh", "-F", str(LabPaths(STACK).ssh_config), host, command], check=True, timeout=60)


def test_drift_lists_a_hand_made_change_and_converge_clears_it() -> None:
    clean = runner.invoke(app, ["audit", "drift", STACK])
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.output
    host = "egov6-lab-flow1"
    # An admin opens a port by hand and leaves a test server running.
    _on_host(host, "sudo nft add rule inet egov6 input tcp dport 8080 accept")
    _on_host(host, "sudo systemd-run --unit=egov6-drift-probe python3 -m http.server 8081")
    try:
        drifted = runner.invoke(app, ["audit", "drift", STACK])
        assert drifted.exit_code == 1, drifted.output
        lines = [line for line in drifted.output.splitlines() if host in line]
        assert any("firewall-extra" in line and "tcp/8080" in line for line in lines), drifted.output
        assert any("listening-undeclared" in line and "tcp/8081" in line for line in lines), drifted.output
        assert not any("egov6-lab-cloud1" in line for line in drifted.output.splitlines()[1:])
    finally:
        _on_host(host, "sudo systemctl stop egov6-drift-probe")
        _on_host(host, "sudo systemctl restart nftables")  # back to the declared ruleset
    assert runner.invoke(app, ["audit", "drift", STACK]).exit_code == 0
