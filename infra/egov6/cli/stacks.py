"""Commands on the declared infrastructure: check (offline), preview and up (Pulumi Automation API)."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from egov6.cli.console import EXIT_FAILED, EXIT_INPUT, console, handle_errors, ok, step, warn
from egov6.config.advice import stack_warnings
from egov6.config.loader import load_stack, read_stack_file, repo_root, stack_name, stack_path
from egov6.errors import Egov6Error
from egov6.policies import evaluate_policies

StackArg = Annotated[str, typer.Argument(help="Stack name (lab, staging, production) or path to a stack file")]

PULUMI_MISSING = (
    "the Pulumi CLI is not installed, so nothing can be previewed or deployed. Install it "
    "(https://www.pulumi.com/docs/install/), run `pulumi login`, set the Hetzner token with "
    "`pulumi config set --secret hcloud:token --stack STACK`, then run this command again. "
    "`egov6 check STACK` works offline without it."
)


@handle_errors
def check(stack: StackArg) -> None:
    """Validate the stack file and run the GDPR/BSI policies offline (no cloud access needed)."""
    from egov6.hetzner.evaluate import evaluate  # Pulumi is imported only where the program runs

    path = stack_path(stack)
    data = read_stack_file(path)
    cfg = load_stack(path)  # validates before anything is evaluated
    for key, message in stack_warnings(cfg):
        warn(f"{path}: [bold]egov6:{escape(key)}[/]: {escape(message)}")
    step(f"evaluating the Pulumi program for {path.name} under mocks")
    declaration = evaluate(data, stack_name(path))
    results = evaluate_policies(declaration.resources)
    table = Table(title=f"Policies for stack {declaration.stack} ({len(declaration.resources)} resources)")
    for column in ("result", "id", "policy", "severity", "reference", "finding"):
        table.add_column(column)
    for result in results:
        rule = result.rule
        if result.passed:
            table.add_row("[green]pass[/]", rule.id, rule.name, rule.severity, rule.reference, "")
        for violation in result.violations:
            finding = f"{violation.resource}: {violation.message}"
            table.add_row("[red]FAIL[/]", rule.id, rule.name, rule.severity, rule.reference, finding)
    console.print(table)
    failed = [r for r in results if not r.passed]
    if failed:
        for result in failed:
            for violation in result.violations:
                console.print(f"[red]violation[/] {violation.rule} {violation.resource}: {violation.message}")
        raise typer.Exit(EXIT_FAILED)
    ok(f"stack {declaration.stack}: {len(results)} policies passed")


def _cloud_stack(stack: str) -> tuple[str, object]:
    path = stack_path(stack)
    cfg = load_stack(path)
    if cfg.environment == "lab":
        raise Egov6Error(f"{path.name} is a lab stack: it is not deployed with Pulumi; run `egov6 up {stack}`")
    if shutil.which("pulumi") is None:
        raise Egov6Error(PULUMI_MISSING)
    from pulumi import automation as auto

    name = stack_name(path)
    return name, auto.select_stack(stack_name=name, work_dir=str(repo_root()))


@handle_errors
def preview(stack: StackArg) -> None:
    """Show what `up` would change on Hetzner Cloud, with the policy pack enforced."""
    name, selected = _cloud_stack(stack)
    step(f"pulumi preview of stack {name}")
    result = selected.preview(on_output=console.print, policy_packs=[str(repo_root() / "policypack")])  # type: ignore[attr-defined]
    ok(f"preview done: {result.change_summary}")


def deploy(stack: str, yes: bool) -> None:
    name, selected = _cloud_stack(stack)
    if not yes:
        typer.confirm(f"Deploy stack {name} to Hetzner Cloud?", abort=True)
    step(f"pulumi up of stack {name}")
    result = selected.up(on_output=console.print, policy_packs=[str(repo_root() / "policypack")])  # type: ignore[attr-defined]
    ok(f"stack {name} is up: {result.summary.resource_changes}")


__all__ = ["EXIT_FAILED", "EXIT_INPUT", "check", "deploy", "preview"]


stack_app = typer.Typer(help="The stack file itself: its reference and a template.", no_args_is_help=True)


@stack_app.command("reference")
@handle_errors
def reference() -> None:
    """Print the stack-file reference (Markdown; docs/stack-reference.md is this output)."""
    from egov6.config.reference import reference_markdown

    typer.echo(reference_markdown(), nl=False)


@stack_app.command("template")
@handle_errors
def template() -> None:
    """Print an annotated starting file for a new stack (every CHANGE-ME must be replaced; check names each)."""
    from egov6.config.reference import stack_template

    typer.echo(stack_template(), nl=False)
