"""`egov6 backup`: run, list and check the backups of a stack's service hosts, and export their keys."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from egov6 import backup
from egov6.cli.console import EXIT_FAILED, console, handle_errors, ok, step, warn
from egov6.cli.stacks import StackArg
from egov6.errors import Egov6Error
from egov6.orchestrate import Stack

backup_app = typer.Typer(help="Backups of the service hosts (borg, append-only, encrypted).", no_args_is_help=True)

HostOption = Annotated[str | None, typer.Option("--host", help="Only this host (inventory name)")]


def _size(count: int) -> str:
    return f"{count / 1024**2:,.1f} MiB"


def _age(age: dt.timedelta | None) -> str:
    return "-" if age is None else f"{age.total_seconds() / 3600:.1f} h"


@backup_app.command("run")
@handle_errors
def run(stack: StackArg, host: HostOption = None) -> None:
    """Back the service hosts up now (the run their daily timer starts), one after the other."""
    loaded = Stack.load(stack)
    failed = []
    for name in backup.clients(loaded.topology, host):
        step(f"backing up {name} (database dump and data; Nextcloud in maintenance mode until its archive is made)")
        try:
            made = backup.run(loaded.topology, name)
        except Egov6Error as exc:
            warn(str(exc))
            failed.append(name)
            continue
        paused = f", in maintenance mode {made.paused_seconds:.1f} s" if made.paused_seconds else ""
        ok(f"{name}: archive {made.archive}: {made.files} files, {_size(made.original_size)}, "
           f"{_size(made.deduplicated_size)} new after deduplication, {made.seconds:.1f} s{paused}")  # fmt: skip
    if failed:
        raise Egov6Error(f"the backup of {', '.join(failed)} failed; the others are done")


@backup_app.command("list")
@handle_errors
def list_archives(stack: StackArg, host: HostOption = None) -> None:
    """The archives of each host's repository, oldest first."""
    loaded = Stack.load(stack)
    for name in backup.clients(loaded.topology, host):
        table = Table(title=f"Archives of {name}")
        table.add_column("archive")
        table.add_column("made (UTC)")
        found = backup.archives(loaded.topology, name)
        for archive in found:
            table.add_row(archive.name, f"{archive.time:%Y-%m-%d %H:%M:%S}")
        console.print(table)
        ok(f"{name}: {len(found)} archives")


@backup_app.command("status")
@handle_errors
def status(stack: StackArg, host: HostOption = None) -> None:
    """Per host the newest archive, its age and `borg check`; exit 1 when one is older than the stack's
    backup.max_age_hours, its check fails or its target cannot be reached."""
    loaded = Stack.load(stack)
    table = Table(title=f"Backups of stack {loaded.name} (older than {loaded.config.backup.max_age_hours} h fails)")
    for column in ("host", "newest archive", "age", "borg check", "state"):
        table.add_column(column)
    found = [backup.status(loaded.topology, name) for name in backup.clients(loaded.topology, host)]
    for state in found:
        verdict = "[green]ok[/]" if state.ok else f"[red]{state.problem}[/]"
        table.add_row(state.host, state.last.name if state.last else "-", _age(state.age), state.check, verdict)
    console.print(table)
    bad = [s.host for s in found if not s.ok]
    if bad:
        console.print(f"[red]backups of {', '.join(bad)} need attention[/]")
        raise typer.Exit(EXIT_FAILED)
    ok(f"backups of {loaded.name}: {len(found)} hosts current and checked")


@backup_app.command("prune")
@handle_errors
def prune(stack: StackArg, host: HostOption = None) -> None:
    """Apply the stack's retention (backup.retention) to each repository with the controller's maintenance key,
    then free the space. The hosts' own keys cannot delete anything."""
    loaded = Stack.load(stack)
    keep = loaded.config.backup.retention
    for name in backup.clients(loaded.topology, host):
        step(f"pruning {name}'s repository: {keep.daily} daily, {keep.weekly} weekly, {keep.monthly} monthly kept")
        done = backup.prune(loaded.topology, name)
        ok(f"{name}: {done.kept} archives kept, {done.pruned} pruned")


@backup_app.command("restore-files")
@handle_errors
def restore_files(
    stack: StackArg,
    club: Annotated[str, typer.Option("--club", help="The club (its slug in the registry)")],
    path: Annotated[str, typer.Option("--path", help="What to put back, inside the club's folder")] = "",
    at: Annotated[str | None, typer.Option("--at", help="The archive (`egov6 backup list`); default: newest")] = None,
) -> None:
    """Put a club's lost files back into its folder from the cloud host's backup: only files missing now are
    written (what exists is kept), no other club's files are touched; safe to repeat."""
    loaded = Stack.load(stack)
    step(f"putting back {path or 'everything'} of club {club} from {at or 'the newest archive'}")
    done = backup.restore_club_files(loaded.topology, loaded.clubs, club, path, at)
    for name in done.restored[:20]:
        console.print(Text(f"  restored {name}"))  # a file name is text, not markup
    if len(done.restored) > 20:
        console.print(f"  … and {len(done.restored) - 20} more")
    if done.kept:
        console.print(f"  kept {len(done.kept)} files that exist now (not overwritten)")
    ok(f"club {club}: {len(done.restored)} files put back from {done.archive}")


@backup_app.command("drill")
@handle_errors
def drill(
    stack: StackArg,
    host: HostOption = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the drill host running (remove: `egov6 lab down`)")
    ] = False,
) -> None:
    """The restore drill (lab): each service host's newest archive (or HOST's) onto a fresh lab host, converged
    from the stack alone and checked as its users would notice (the cloud: it serves, club spaces, club files,
    club calendars; the engine: it answers, its process instances with their models), then removed.
    Exit 1 when a check fails or an archive cannot be restored."""
    from egov6 import drill as restore_drill  # the drill's HTTPS client is loaded only for it

    loaded = Stack.load(stack)
    roles = {h.name: h.role for h in loaded.topology.hosts}
    failed = []
    for name in backup.clients(loaded.topology, host):
        report = restore_drill.run(loaded, step, role="cloud" if roles[name] == "cloud" else "flow", keep=keep)
        table = Table(title=f"Restore drill of {report.source}: {report.archive} onto {report.host}")
        for column in ("check", "result", "detail"):
            table.add_column(column)
        colour = {"passed": "green", "failed": "red", "skipped": "yellow"}
        for check in report.checks:
            table.add_row(check.name, f"[{colour[check.state]}]{check.state}[/]", Text(check.detail))
        console.print(table)
        stages = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in report.seconds.items())
        if report.ok:
            ok(f"restore drill of {name} passed in {report.total:.0f} s ({stages})")
        else:
            console.print(f"[red]restore drill of {name} failed[/] after {report.total:.0f} s ({stages})")
            failed.append(name)
    if failed:
        raise typer.Exit(EXIT_FAILED)


@backup_app.command("export-keys")
@handle_errors
def export_keys(
    stack: StackArg,
    folder: Annotated[
        Path, typer.Argument(help="Folder for the key files (for the team's safe; created 0700)", file_okay=False)
    ],
) -> None:
    """Write each repository's key file (borg key export) into FOLDER: with the stack's passphrase it opens the
    repository even when the host is gone. Keep both apart and offline."""
    loaded = Stack.load(stack)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in backup.clients(loaded.topology):
        target = folder / f"{name}.borg-key"
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(backup.export_key(loaded.topology, name))
        ok(f"{name}: key written to {target}")
