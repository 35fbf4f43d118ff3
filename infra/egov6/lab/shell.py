"""Running system commands with errors a user can act on."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from egov6.errors import Egov6Error


def run(args: Sequence[str], *, check: bool = True, input_text: str | None = None) -> str:
    """Runs a command; on failure raises an Egov6Error with the command and its stderr."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, input=input_text, check=False)
    except FileNotFoundError as exc:
        raise Egov6Error(f"{args[0]} is not installed (run scripts/bootstrap)") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise Egov6Error(f"`{' '.join(args)}` failed ({done.returncode}): {' / '.join(detail)}")
    return done.stdout
