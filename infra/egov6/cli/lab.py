"""Lab and host commands: lab up/down/status, inventory, converge, verify, and `egov6 up` for every stack.

What runs is ``egov6.orchestrate`` (one path for lab and cloud stacks); this module only presents it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from egov6.cli.console import EXIT_FAILED, console, handle_errors, ok, step
from egov6.cli.stacks import StackArg
from egov6.config.loader import repo_root
from egov6.errors import Egov6Error
from egov6.lab.backend import LabBackend, UpReport
from egov6.orchestrate import Stack, converge_failure, up
from egov6.orchestrate import converge as run_converge
from egov6.orchestrate import inventory as write_inventory_from_outputs
from egov6.orchestrate import verify as run_verify
from egov6.outputs import local_dir
from egov6.runner import RunResult
from egov6.topology import Topology

lab_app = typer.Typer(help="Local lab hosts (systemd-nspawn) for a lab stack.", no_args_is_help=True)
LabStackArg = Annotated[str, typer.Argument(help="Lab stack name or stack file")]
OutputsOption = Annotated[
    Path | None,
    typer.Option("--outputs", help="A saved stack outputs document (JSON) instead of the stack's own", dir_okay=False),
]


def _lab(stack: str) -> LabBackend:
    return LabBackend(Stack.load(stack).topology)


def provision_lab(backend: LabBackend) -> UpReport:
    step(f"lab {backend.topology.stack}: bridge {backend.lab.bridge}, subnet {backend.subnet}")
    report = backend.up(progress=step)
    ok(f"lab up: {len(report.created)} created, {len(report.started)} started, {len(report.kept)} kept")
    return report


def lab_up(stack: str) -> tuple[LabBackend, UpReport]:
    """Provision the lab hosts and write the inventory from their outputs (what `egov6 lab up` does)."""
    loaded = Stack.load(stack)
    backend = LabBackend(loaded.topology)
    report = provision_lab(backend)
    folder = write_inventory_from_outputs(loaded)
    ok(f"inventory {folder.relative_to(repo_root())} (from the stack outputs)")
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


def _show_run(name: str, result: RunResult) -> None:
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


def converge_stack(
    stack: str, limit: str | None = None, tags: str | None = None, outputs: Path | None = None
) -> RunResult:
    loaded = Stack.load(stack)
    step(f"converging stack {loaded.name} (playbooks/site.yml)")
    result = run_converge(loaded, limit=limit, tags=tags, on_event=_print_event, saved=outputs)
    _show_run(loaded.name, result)
    failure = converge_failure(result)
    if failure:
        raise Egov6Error(failure)
    return result


def converge(
    stack: StackArg,
    limit: Annotated[str | None, typer.Option("--limit", "-l", help="Only these hosts or groups")] = None,
    tags: Annotated[str | None, typer.Option("--tags", "-t", help="Only tasks with these tags")] = None,
    outputs: OutputsOption = None,
) -> None:
    """Run playbooks/site.yml on the stack's hosts (inventory written fresh from the stack file and its outputs)."""
    handle_errors(converge_stack)(stack, limit, tags, outputs)


def _kept_log(path: str) -> None:
    console.print(f"[dim]kept for reading: {path}[/]")


def verify_stack(stack: str, extra: list[str] | None = None) -> int:
    loaded = Stack.load(stack)
    step(f"verifying stack {loaded.name} with testinfra (tests/hosts)")
    return run_verify(loaded, extra, on_logs=_kept_log)


def verify(stack: StackArg) -> None:
    """Run the pytest-testinfra host tests against the stack's generated inventory."""
    rc = handle_errors(verify_stack)(stack)
    if rc == 5:
        raise typer.Exit(EXIT_FAILED)  # no host test collected is a failure, not a pass
    if rc:
        raise typer.Exit(rc)


@handle_errors
def inventory(stack: StackArg, outputs: OutputsOption = None) -> None:
    """Write the inventory, known_hosts and secrets folder from the stack outputs alone (cloud: Pulumi's state,
    or a saved outputs document for offline review)."""
    loaded = Stack.load(stack)
    folder = write_inventory_from_outputs(loaded, outputs, refresh=not loaded.is_lab)
    ok(f"inventory {folder.relative_to(repo_root())} for stack {loaded.name} ({len(loaded.topology.hosts)} hosts)")


def main_job(stack: str, yes: bool = False) -> None:
    """`egov6 up`: provision → outputs → inventory → converge → verify, then what runs where and the stage times."""
    loaded = Stack.load(stack)
    provision: Callable[[], object]
    if loaded.is_lab:
        backend = LabBackend(loaded.topology)
        provision = functools.partial(provision_lab, backend)
    else:
        from egov6.cli.stacks import provision_cloud

        provision = functools.partial(provision_cloud, loaded, yes)
    times, result = up(loaded, provision, on_event=_print_event, progress=step)
    _show_run(loaded.name, result)
    _summary(loaded.topology, times.stages)


def _summary(topology: Topology, stages: dict[str, float]) -> None:
    cfg = topology.config
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in stages.items())
    table = Table(title=f"stack {topology.stack} is up and verified in {sum(stages.values()):.0f} s ({timing})")
    for column in ("host", "role", "address", "runs", "reach it with"):
        table.add_column(column)
    runs = {"cloud": "Nextcloud (PostgreSQL, Redis, PHP-FPM, nginx), coturn",
            "flow": "SpiffArena API + scheduler, PostgreSQL, nginx", "backup": "base role (borg: not yet)"}  # fmt: skip
    ssh_config = (local_dir(topology.stack) / "ssh_config").relative_to(repo_root())
    for host in topology.hosts:
        reach = f"ssh -F {ssh_config} {host.name}"
        if host.role in ("cloud", "flow"):
            reach = f"https://{cfg.fqdn(host.role)} (→ {host.private_ip})\n{reach}"
        table.add_row(host.name, host.role, host.private_ip, runs[host.role], reach)
    console.print(table)
    if cfg.lab:
        folder = ssh_config.parent
        console.print(
            f"domain {cfg.domain}: map the names to the addresses (/etc/hosts) and trust {folder}/trusted-roots.pem;"
        )
        console.print(f"workflow users' passwords: {folder}/secrets/spiffworkflow-user-*")
        console.print(f"tear down with `egov6 lab down {topology.stack}`")


__all__ = ["converge", "inventory", "lab_app", "main_job", "verify"]
