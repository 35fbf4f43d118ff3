"""`egov6 audit`: the auditor report, change review between revisions, drift of the lab against the declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from egov6.audit.render import FORMATS, render
from egov6.cli.console import EXIT_FAILED, console, handle_errors, ok, step
from egov6.cli.stacks import StackArg
from egov6.config.loader import load_stack, stack_name, stack_path
from egov6.errors import Egov6Error
from egov6.lab.paths import LabPaths
from egov6.topology import build_topology


class _ReportByDefault(TyperGroup):
    """`egov6 audit STACK …` is the report; `egov6 audit diff|drift …` are the other commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["report", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=_ReportByDefault,
    no_args_is_help=True,
    help="Auditor report of the declared infrastructure (no cloud credentials needed): "
    "`egov6 audit STACK`, `egov6 audit diff STACK REV1 REV2`, `egov6 audit drift STACK`.",
)


@audit_app.command("report")
@handle_errors
def report_command(
    stack: StackArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="html, md or json")] = "html",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report")] = Path("reports"),
) -> None:
    """Write the audit report of a stack (resources, exposure, data, processors, measures, policies)."""
    from egov6.audit.report import report_for_stack

    formats = FORMATS if fmt == "all" else (fmt,)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise Egov6Error(f"--format {fmt!r} is not one of {', '.join(FORMATS)} (or 'all')")
    path = stack_path(stack)
    load_stack(path)
    step(f"evaluating {path.name} offline and writing the audit report")
    report = report_for_stack(path)
    out.mkdir(parents=True, exist_ok=True)
    for each in formats:
        target = out / f"audit-{report['meta']['stack']}.{each}"
        target.write_text(render(report, each), encoding="utf-8")
        ok(f"wrote {target}")
    failed = [p["id"] for p in report["policies"] if not p["passed"]]
    if failed:
        console.print(f"[red]policy failures:[/] {', '.join(failed)}")


@audit_app.command("diff")
@handle_errors
def diff_command(
    stack: Annotated[
        str, typer.Argument(help="Stack name, or a stack file outside the repository (compared under both revisions)")
    ],
    rev1: Annotated[str, typer.Argument(help="Earlier git revision")],
    rev2: Annotated[str, typer.Argument(help="Later git revision")] = "HEAD",
) -> None:
    """Show what changed in the declared infrastructure between two git revisions."""
    from egov6.audit.diff import compare, declared_at

    step(f"evaluating stack {stack} at {rev1} and at {rev2}")
    diff = compare(declared_at(rev1, stack), declared_at(rev2, stack))
    if diff.empty:
        ok(f"no change in the declared infrastructure of {stack} between {rev1} and {rev2}")
        return
    table = Table(title=f"stack {stack}: {rev1} → {rev2}")
    table.add_column("change")
    table.add_column("what")
    rows: list[tuple[str, Any]] = [("[green]added[/]", n) for n in diff.added]
    rows += [("[red]removed[/]", n) for n in diff.removed]
    rows += [("[yellow]changed[/]", f"{n}: {', '.join(keys)}") for n, keys in diff.changed.items()]
    rows += [("[red]exposure +[/]", e) for e in diff.exposure_added]
    rows += [("[green]exposure -[/]", e) for e in diff.exposure_removed]
    rows += [("policy", f"{rule}: {was} → {now}") for rule, (was, now) in diff.policies.items()]
    for change, what in rows:
        table.add_row(change, str(what))
    console.print(table)


@audit_app.command("drift")
@handle_errors
def drift_command(stack: Annotated[str, typer.Argument(help="Lab stack name")] = "lab") -> None:
    """Compare the declared firewall rules and ports with what the lab hosts actually expose."""
    from egov6.audit.drift import detect

    path = stack_path(stack)
    topology = build_topology(load_stack(path), stack_name(path))
    ssh_config = LabPaths(topology.stack).ssh_config
    if not ssh_config.is_file():
        raise Egov6Error(f"lab {topology.stack} is not up (no ssh config): run `egov6 lab up {stack}`")
    step(f"reading the live firewall and sockets of {len(topology.hosts)} hosts")
    drifts = detect(topology, ssh_config)
    if not drifts:
        ok(f"no drift: {len(topology.hosts)} hosts expose exactly what is declared")
        return
    table = Table(title=f"drift of lab {topology.stack} against the declaration")
    for column in ("host", "kind", "detail"):
        table.add_column(column)
    for drift in drifts:
        table.add_row(drift.host, drift.kind, drift.detail)
    console.print(table)
    raise typer.Exit(EXIT_FAILED)
