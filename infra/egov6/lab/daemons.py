"""The lab's helper services on the bridge (apt cache, SMTP sink): found by their pid file, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from egov6.errors import Egov6Error


def running(pidfile: Path) -> int | None:
    """The pid in the file when that process is alive."""
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def spawn(argv: list[str], log: Path, pidfile: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Starts a helper in a session of its own (it outlives the command that started it), its output appended to
    ``log``, its pid in ``pidfile``."""
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
            env=env,
        )  # fmt: skip
    except FileNotFoundError:
        raise Egov6Error(f"{argv[0]} is missing: run scripts/bootstrap (it installs the lab's tools)") from None
    pidfile.write_text(str(process.pid), encoding="utf-8")
    return process


def stop(pidfile: Path, timeout: float = 5) -> None:
    pid = running(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running(pidfile) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)


def wait_until_answering(
    process: subprocess.Popen[bytes], answers: Callable[[], bool], what: str, log: Path, timeout: float = 15
) -> None:
    """Waits until ``answers()`` (an OSError counts as no) or the process ends (its log says why)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if answers():
                return
        except OSError:
            pass
        if process.poll() is not None:
            raise Egov6Error(f"{what} exited at start; see {log}")
        time.sleep(0.2)
    raise Egov6Error(f"{what} did not answer within {timeout:.0f} s; see {log}")
