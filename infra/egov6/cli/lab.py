"""Lab and host commands: lab up/down/status, converge, verify, and the main job `egov6 up lab`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from egov6.cli.console import EXIT_FAILED, console, handle_errors, ok, step
from egov6.cli.stacks import StackArg
from egov6.config.loader import load_stack, repo_root, stack_name, stack_path
from egov6.errors import Egov6Error
from egov6.hostlogs import keep_service_logs
from egov6.inventory import Connection, inventory_dir, write_inventory, write_ssh_config
from egov6.lab.backend import LabBackend, UpReport
from egov6.lab.hosts import AUTOMATION_USER
from egov6.lab.paths import LabPaths
from egov6.runner import RunResult, ansible_env, run_playbook
from egov6.secrets import stage_environment_secrets
from egov6.topology import Topology, build_topology

lab_app = typer.Typer(help="Local lab hosts (systemd-nspawn) for a lab stack.", no_args_is_help=True)
LabStackArg = Annotated[str, typer.Argument(help="Lab stack name or stack file")]


def _topology(stack: str) -> Topology:
    path = stack_path(stack)
    return build_topology(load_stack(path), stack_name(path))


def _lab(stack: str) -> LabBackend:
    return LabBackend(_topology(stack))


def lab_up(stack: str) -> tuple[LabBackend, UpReport]:
    backend = _lab(stack)
    step(f"lab {backend.topology.stack}: bridge {backend.lab.bridge}, subnet {backend.subnet}")
    report = backend.up(progress=step)
    paths = backend.paths
    write_ssh_config(paths.ssh_config, backend.topology, paths.key, AUTOMATION_USER)
    connection = Connection(
        user=AUTOMATION_USER,
        key_file=paths.key,
        ssh_config=paths.ssh_config,
        automation_user=AUTOMATION_USER,
        automation_key=paths.key.with_suffix(".pub").read_text(encoding="utf-8").strip(),
        local_dir=paths.local,
    )
    addresses = {h.name: h.private_ip for h in backend.topology.hosts}
    folder = write_inventory(backend.topology, addresses, connection)
    ok(
        f"lab up: {len(report.created)} created, {len(report.started)} started, {len(report.kept)} kept; "
        f"inventory {folder.relative_to(repo_root())}"
    )
    return backend, report


@lab_app.command("up")
@handle_errors
def up_command(stack: LabStackArg = "lab") -> None:
    """Create and boot one host per declared host (idempotent: running hosts are kept)."""
    lab_up(stack)


@lab_app.command("down")
@handle_errors
def down_command(stack: LabStackArg = "lab") -> None:
    """Remove everything `lab up` created: hosts, bridge, apt cache, cgroups, processes."""
    _lab(stack).down(progress=step)


@lab_app.command("status")
@handle_errors
def status_command(stack: LabStackArg = "lab") -> None:
    """List the lab's hosts, addresses and state."""
    backend = _lab(stack)
    table = Table(title=f"lab {backend.topology.stack} on {backend.lab.bridge} ({backend.subnet})")
    for column in ("host", "role", "address", "state"):
        table.add_column(column)
    rows = backend.status()
    for row in rows:
        colour = {"running": "green", "stopped": "red"}.get(row.state, "yellow")
        table.add_row(row.name, row.role, row.address, f"[{colour}]{row.state}[/]")
    console.print(table)


@lab_app.command("stop-host", hidden=True)
@handle_errors
def stop_host_command(host: str, stack: LabStackArg = "lab") -> None:
    """Stop one lab host but keep it (fault tests); `lab up` starts it again."""
    _lab(stack).stop_host(host)
    ok(f"{host} stopped")


def _print_event(host: str, task: str, status: str, totals: Counter[str]) -> None:
    if status == "skipped":
        return
    colour = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "red"}[status]
    counts = f"ok={totals['ok']} changed={totals['changed']} failed={totals['failed'] + totals['unreachable']}"
    console.print(f"  [{colour}]{status:<11}[/] {host:<22} {task}  [dim]{counts}[/]")


def converge_stack(stack: str, limit: str | None = None, tags: str | None = None) -> RunResult:
    name = stack_name(stack_path(stack))
    cfg = load_stack(stack_path(stack))
    stage_environment_secrets(cfg, LabPaths(name).local / "secrets")
    step(f"converging stack {name} (playbooks/site.yml)")
    result = run_playbook(
        inventory_dir(name),
        artifacts=LabPaths(name).local / "runner",
        limit=limit,
        tags=tags,
        on_event=_print_event,
    )
    table = Table(title=f"converge {name}: {result.status} in {result.seconds:.0f} s")
    for column in ("host", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(column)
    for host, summary in sorted(result.hosts.items()):
        table.add_row(host, str(summary.ok), str(summary.changed), str(summary.failed),
                      str(summary.unreachable), str(summary.skipped))  # fmt: skip
    console.print(table)
    for note in result.skipped:
        console.print(f"  [yellow]skipped[/] {note}")
    console.print(f"[dim]run artifacts: {result.artifacts}[/]")
    if result.failed_hosts or result.rc != 0:
        details = "; ".join(f"{h}: {t}: {m}" for h, t, m in result.failures[:5])
        raise Egov6Error(f"converge failed on {', '.join(result.failed_hosts) or 'the run'}: {details}")
    return result


def converge(
    stack: StackArg,
    limit: Annotated[str | None, typer.Option("--limit", "-l", help="Only these hosts or groups")] = None,
    tags: Annotated[str | None, typer.Option("--tags", "-t", help="Only tasks with these tags")] = None,
) -> None:
    """Run playbooks/site.yml on the stack's hosts through ansible-runner."""
    handle_errors(converge_stack)(stack, limit, tags)


def verify_stack(stack: str, extra: list[str] | None = None) -> int:
    name = stack_name(stack_path(stack))
    load_stack(stack_path(stack))
    inventory = inventory_dir(name) / "hosts.yml"
    if not inventory.is_file():
        raise Egov6Error(f"no inventory for {name}: bring the stack up first")
    step(f"verifying stack {name} with testinfra (tests/hosts)")
    args = [
        sys.executable, "-m", "pytest", str(repo_root() / "tests" / "hosts"),
        # No --hosts: each test module names its host group (testinfra_hosts), the rest run on all hosts.
        f"--ansible-inventory={inventory}", "--connection=ansible", "-p", "no:cacheprovider", "-n", "4",
        *(extra or []),
    ]  # fmt: skip
    env = {**os.environ, **ansible_env()}
    rc = subprocess.call(args, cwd=repo_root(), env=env)
    if rc not in (0, 5):
        kept = keep_service_logs(inventory, LabPaths(name).local / "logs")
        for path in kept:
            console.print(f"[dim]kept for reading: {path.relative_to(repo_root())}[/]")
    return rc


def verify(stack: StackArg) -> None:
    """Run the pytest-testinfra host tests against the stack's generated inventory."""
    rc = handle_errors(verify_stack)(stack)
    if rc == 5:
        raise typer.Exit(EXIT_FAILED)  # no host test collected is a failure, not a pass
    if rc:
        raise typer.Exit(rc)


def lab_main_job(stack: str) -> None:
    """The main job: lab up → converge → verify, then a summary of what runs where and the time per stage."""
    stages: dict[str, float] = {}
    began = time.monotonic()
    backend, _report = lab_up(stack)
    stages["lab up"] = time.monotonic() - began
    converge_stack(stack)
    stages["converge"] = time.monotonic() - began - sum(stages.values())
    rc = verify_stack(stack)
    stages["verify"] = time.monotonic() - began - sum(stages.values())
    if rc:
        raise Egov6Error(f"verify failed (pytest exit {rc}); the lab stays up for inspection")
    _summary(backend.topology, stages)


def _summary(topology: Topology, stages: dict[str, float]) -> None:
    cfg = topology.config
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in stages.items())
    table = Table(title=f"lab {topology.stack} is up and verified in {sum(stages.values()):.0f} s ({timing})")
    for column in ("host", "role", "address", "runs", "reach it with"):
        table.add_column(column)
    runs = {"cloud": "Nextcloud (PostgreSQL, Redis, PHP-FPM, nginx), coturn",
            "flow": "SpiffArena API + scheduler, PostgreSQL, nginx", "backup": "base role (borg: not yet)"}  # fmt: skip
    paths = LabPaths(topology.stack)
    ssh_config = paths.ssh_config.relative_to(repo_root())
    for host in topology.hosts:
        reach = f"ssh -F {ssh_config} {host.name}"
        if host.role in ("cloud", "flow"):
            reach = f"https://{cfg.fqdn(host.role)} (→ {host.private_ip})\n{reach}"
        table.add_row(host.name, host.role, host.private_ip, runs[host.role], reach)
    console.print(table)
    local = paths.local.relative_to(repo_root())
    console.print(f"domain {cfg.domain}: map the names to the addresses (/etc/hosts) and trust {local}/ca/ca.crt;")
    console.print(f"workflow users' passwords: {local}/secrets/spiffworkflow-user-*")
    console.print(f"tear down with `egov6 lab down {topology.stack}`")


__all__ = ["Path", "converge", "lab_app", "lab_main_job", "verify"]
