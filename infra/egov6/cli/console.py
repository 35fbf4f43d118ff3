"""All terminal output goes through here (rich), so that messages look the same everywhere."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from egov6.errors import ConfigError, Egov6Error

# soft_wrap: progress and error lines stay whole in CI logs (no terminal width there).
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 1  # the command ran and found a problem (policy violation, failed host)
EXIT_INPUT = 2  # bad input: nothing was run or applied


def info(message: str) -> None:
    console.print(message)


def step(message: str) -> None:
    console.print(f"[bold cyan]»[/] {message}")


def ok(message: str) -> None:
    console.print(f"[green]✔[/] {message}")


def warn(message: str) -> None:
    err_console.print(f"[yellow]![/] {message}")


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turns the project's own exceptions into a clean message and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            error(f"invalid {exc.kind} {exc.path} (nothing was applied)")
            for key, reason in exc.problems:
                err_console.print(f"  {escape(exc.path)}: [bold]{escape(key)}[/]: {escape(reason)}")
            raise typer.Exit(EXIT_INPUT) from None
        except Egov6Error as exc:
            error(str(exc))
            raise typer.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None

    return wrapper
