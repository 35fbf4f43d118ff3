"""`egov6 clubs`: the club registry of a stack (clubs/<stack>.yaml) and the club spaces on its cloud host."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from egov6.cli.console import EXIT_FAILED, console, handle_errors, ok, step, warn
from egov6.cli.stacks import StackArg
from egov6.clubs.registry import ClubRegistry, load_registry, quota_gb, registry_path
from egov6.clubs.spaces import ClubRun, Mode, desired_state, invite, run_provisioner
from egov6.config.loader import load_stack, stack_name, stack_path
from egov6.config.schema import EMAIL
from egov6.errors import ConfigError, Egov6Error
from egov6.orchestrate import Stack

clubs_app = typer.Typer(help="Club spaces: the club registry of a stack.", no_args_is_help=True)


@clubs_app.command("check")
@handle_errors
def check(stack: StackArg) -> None:
    """Validate the stack's club registry (clubs/<stack>.yaml) against the stack: exit 2 names file, entry and key."""
    path = stack_path(stack)
    cfg = load_stack(path)
    name = stack_name(path)
    registry = load_registry(name, cfg)
    towns = {town.slug: town.name for town in cfg.towns}
    per_town = Counter((club.town, club.state) for club in registry.clubs)
    where = registry_path(name)
    listed = f"clubs/{where.name}" if where.exists() else f"no clubs/{where.name} yet"
    table = Table(title=f"Clubs of stack {name} ({listed})")
    for column in ("town", "active", "offboarded", "quota (GB)"):
        table.add_column(column)
    for slug, town in towns.items():
        quota = sum(quota_gb(c, cfg) for c in registry.clubs if c.town == slug and c.state == "active")
        # Town names are the stack's text: shown as text, never read as console markup.
        table.add_row(Text(town), str(per_town[slug, "active"]), str(per_town[slug, "offboarded"]), str(quota))
    console.print(table)
    ok(f"club registry of {name}: {len(registry.clubs)} clubs, valid")


RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry", help="Another registry file (review, tests) instead of clubs/<stack>.yaml", dir_okay=False
    ),
]


def _loaded(stack: str, registry_file: Path | None) -> tuple[Stack, ClubRegistry]:
    loaded = Stack.load(stack)  # the stack and its registry, validated before anything runs
    return loaded, load_registry(loaded.name, loaded.config, registry_file) if registry_file else loaded.clubs


def show_run(stack: str, run: ClubRun) -> None:
    verb = "would change" if run.mode == "plan" else "changed"
    table = Table(title=f"Club spaces of stack {stack}: {run.clubs_changed} clubs {verb} ({len(run.changes)} items)")
    for column in ("club", "item", "action", "detail"):
        table.add_column(column)
    for change in run.changes:
        colour = {"delete": "red", "disable": "red", "refused": "red", "create": "green"}.get(change.action, "yellow")
        table.add_row(Text(change.club), change.item, f"[{colour}]{change.action}[/]", Text(change.detail))
    if run.changes:
        console.print(table)
    for entry in run.unregistered:
        warn(f"club {entry['slug']} ({entry['name']}) was provisioned by the engine but is not in the registry: "
             f"`egov6 clubs adopt {stack}`")  # fmt: skip
    reasons = Counter((entry["item"], entry["reason"]) for entry in run.skipped)
    for (item, reason), count in sorted(reasons.items()):
        console.print(f"  [yellow]skipped[/] {item} for {count} clubs: {escape(reason)}")
    for club, error in run.errors:
        console.print(f"[red]failed[/] {escape(club)}: {escape(error)}")


def run_clubs(stack: str, mode: Mode, registry_file: Path | None = None) -> ClubRun:
    return _run_clubs(*_loaded(stack, registry_file), mode)


def _run_clubs(loaded: Stack, registry: ClubRegistry, mode: Mode) -> ClubRun:
    step(f"{mode} of {len(registry.clubs)} club spaces on the cloud host of stack {loaded.name}")
    began = time.monotonic()
    run = run_provisioner(loaded.topology, mode, desired_state(registry, loaded.config))
    run.seconds = time.monotonic() - began
    show_run(loaded.name, run)
    if run.errors:
        raise Egov6Error(f"{len(run.errors)} clubs failed; the next `egov6 clubs apply {loaded.name}` retries them")
    if not run.changes:
        ok(f"club spaces of {loaded.name}: as declared ({len(registry.clubs)} clubs, {run.seconds:.1f} s)")
    else:
        done = "would change" if mode == "plan" else "changed"
        ok(f"club spaces of {loaded.name}: {run.clubs_changed} clubs {done} ({run.seconds:.1f} s)")
    return run


@clubs_app.command("plan")
@handle_errors
def plan(stack: StackArg, registry: RegistryOption = None) -> None:
    """What `apply` would change per club and item (create, update, offboard, delete after retention)."""
    run_clubs(stack, "plan", registry)


@clubs_app.command("apply")
@handle_errors
def apply(stack: StackArg, registry: RegistryOption = None) -> None:
    """Bring the club spaces to the registry (idempotent; a run cut short completes on the next one)."""
    run_clubs(stack, "apply", registry)


@clubs_app.command("adopt")
@handle_errors
def adopt(stack: StackArg) -> None:
    """Write the clubs the engine approved (provisioned, not yet in the registry) into clubs/<stack>.yaml."""
    loaded = Stack.load(stack)
    run = _run_clubs(loaded, loaded.clubs, "plan")
    path = registry_path(loaded.name)
    if not run.unregistered:
        ok(f"nothing to adopt: every club space egov6 provisioned is in clubs/{path.name}")
        return
    written = adopted_text(path, run.unregistered)
    candidate = path.with_suffix(".adopting")
    candidate.write_text(written, encoding="utf-8")
    try:
        load_registry(loaded.name, loaded.config, candidate)  # the file as it would be, validated first
    except BaseException:
        candidate.unlink()
        raise
    candidate.replace(path)
    ok(f"adopted {len(run.unregistered)} clubs into clubs/{path.name}: review and commit it")


def adopted_text(path: Path, entries: list[dict[str, str]]) -> str:
    """The registry file with the entries appended (the file's own text and comments kept)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Club registry (egov6 clubs adopt).\nclubs:\n"
    if not text.endswith("\n"):
        text += "\n"
    for entry in entries:
        block = yaml.safe_dump(
            [{"slug": entry["slug"], "name": entry["name"], "town": entry["town"]}],
            allow_unicode=True, sort_keys=False, width=1 << 16,
        )  # fmt: skip
        text += "  # approved through the club application process, adopted by `egov6 clubs adopt`\n"
        text += "".join(f"  {line}\n" for line in block.splitlines())
    return text


EMAIL_PATTERN = re.compile(EMAIL)


@clubs_app.command("invite")
@handle_errors
def invite_command(
    stack: StackArg,
    slug: Annotated[str, typer.Argument(help="The club's slug (clubs/<stack>.yaml)")],
    email: Annotated[str, typer.Argument(help="The contact's e-mail address: the only personal datum kept")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the contact the club's group admin")] = False,
) -> None:
    """Invite a club contact: an account (not named by the e-mail), the club's group, a welcome mail with a link
    to set the password. Safe to repeat (an unsent welcome mail is sent again)."""
    loaded = Stack.load(stack)
    clubs = {club.slug: club for club in loaded.clubs.clubs}
    if slug not in clubs:
        raise ConfigError(
            str(registry_path(loaded.name)), [("slug", f"no club {slug!r} in the registry")], "club registry"
        )
    if clubs[slug].state != "active":
        raise Egov6Error(f"club {slug} is offboarded: nobody is invited to it")
    if not EMAIL_PATTERN.match(email):
        raise typer.BadParameter(f"{email!r} is not an e-mail address (nothing was applied)", param_hint="EMAIL")
    result = invite(loaded.topology, slug, email, admin)
    role = "its group admin" if result.admin else "a member"
    ok(f"{'created' if result.created else 'kept'} account {result.account} as {role} of club {slug}")
    if result.mail_error:
        warn(f"the relay did not take the welcome mail ({escape(result.mail_error)}); the next "
             f"`egov6 clubs apply {loaded.name}` sends it again")  # fmt: skip
        raise typer.Exit(EXIT_FAILED)
    ok("welcome mail with the link to set a password handed to the relay")
