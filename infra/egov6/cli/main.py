"""``egov6``: declare, converge, prove and audit the eGov6 infrastructure."""

from __future__ import annotations

from typing import Annotated

import typer

from egov6.cli import audit, backup, clubs, lab, stacks
from egov6.cli.console import handle_errors

app = typer.Typer(
    name="egov6",
    help=__doc__,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
app.command()(stacks.check)
app.command()(stacks.preview)
app.command()(lab.inventory)
app.command()(lab.converge)
app.command()(lab.verify)
app.add_typer(lab.lab_app, name="lab")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(stacks.stack_app, name="stack")
app.add_typer(clubs.clubs_app, name="clubs")
app.add_typer(backup.backup_app, name="backup")


@app.command()
@handle_errors
def up(
    stack: stacks.StackArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Deploy cloud stacks without asking")] = False,
) -> None:
    """Bring a stack up: provision (lab hosts, or policies and pulumi up) → outputs → inventory → converge → verify."""
    lab.main_job(stack, yes)
