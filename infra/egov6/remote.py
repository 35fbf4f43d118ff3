"""One command on one host of a stack, over the stack's own SSH connection (the pinned host keys of
``.egov6/<stack>/ssh_config``, the automation account): what the club provisioner and the backup commands use."""

from __future__ import annotations

import subprocess

from egov6.errors import Egov6Error
from egov6.outputs import local_dir


def on_host(
    stack: str, host: str, command: str, what: str, timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``command`` (egov6's own, never built from stack values) on ``host``; the caller judges the exit code.
    A missing inventory or a command that does not finish within ``timeout`` is an error naming ``what``."""
    ssh_config = local_dir(stack) / "ssh_config"
    if not ssh_config.is_file():
        raise Egov6Error(f"no ssh config for stack {stack}: run `egov6 inventory {stack}` first")
    try:
        return subprocess.run(
            ["ssh", "-F", str(ssh_config), host, command],
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,  # never the caller's terminal
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise Egov6Error(f"{host}: {what} did not finish within {timeout:.0f} s") from None


def checked(stack: str, host: str, command: str, what: str, timeout: float) -> str:
    """``on_host`` for a command that must succeed: its output, or an error naming the host, ``what`` and the
    command's last words."""
    done = on_host(stack, host, command, what, timeout)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-400:] or "no answer"
        raise Egov6Error(f"{host}: {what} failed (exit {done.returncode}): {detail}")
    return done.stdout
