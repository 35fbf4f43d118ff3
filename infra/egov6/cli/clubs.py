"""`egov6 clubs`: the club registry of a stack (clubs/<stack>.yaml)."""

from __future__ import annotations

from collections import Counter

import typer
from rich.table import Table
from rich.text import Text

from egov6.cli.console import console, handle_errors, ok
from egov6.cli.stacks import StackArg
from egov6.clubs.registry import load_registry, quota_gb, registry_path
from egov6.config.loader import load_stack, stack_name, stack_path

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
