"""Commands on the declared infrastructure: check (offline), preview and the provision stage of cloud stacks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from egov6.cli.console import EXIT_FAILED, EXIT_INPUT, console, handle_errors, ok, step, warn
from egov6.config.advice import stack_warnings
from egov6.config.loader import load_stack, read_stack_file, stack_name, stack_path
from egov6.errors import Egov6Error
from egov6.hetzner import deploy
from egov6.orchestrate import Stack, refuse_placeholders, refuse_unverifiable_releases
from egov6.policies import evaluate_policies

StackArg = Annotated[str, typer.Argument(help="Stack name (lab, staging, production) or path to a stack file")]


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


def _cloud_stack(stack: str) -> Stack:
    loaded = Stack.load(stack)
    if loaded.is_lab:
        raise Egov6Error(f"{loaded.path.name} is a lab stack: it is not deployed with Pulumi; run `egov6 up {stack}`")
    refuse_placeholders(loaded)
    return loaded


def _policies_pass(loaded: Stack) -> None:
    """The offline policy evaluation first: a mandatory violation stops before Pulumi is even asked."""
    from egov6.hetzner.evaluate import evaluate

    failed = [r for r in evaluate_policies(evaluate(loaded.data, loaded.name).resources) if not r.passed]
    if failed:
        found = "; ".join(f"{v.rule} {v.resource}: {v.message}" for r in failed for v in r.violations)
        raise Egov6Error(f"policies failed for stack {loaded.name} (nothing was deployed): {found}")


@handle_errors
def preview(stack: StackArg) -> None:
    """Show what `up` would change on Hetzner Cloud, with the policy pack enforced."""
    loaded = _cloud_stack(stack)
    _policies_pass(loaded)
    step(f"pulumi preview of stack {loaded.name}")
    ok(f"preview done: {deploy.preview(loaded.name, console.print)}")


def provision_cloud(loaded: Stack, yes: bool) -> None:
    """The provision stage of a cloud stack: placeholders and policies refused first, then `pulumi up`."""
    _cloud_stack(str(loaded.path))
    refuse_unverifiable_releases(loaded)
    _policies_pass(loaded)
    if not yes:
        typer.confirm(f"Deploy stack {loaded.name} to Hetzner Cloud?", abort=True)
    step(f"pulumi up of stack {loaded.name}")
    ok(f"stack {loaded.name} is up: {deploy.pulumi_up(loaded.name, console.print)}")


__all__ = ["EXIT_FAILED", "EXIT_INPUT", "check", "preview", "provision_cloud"]


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
