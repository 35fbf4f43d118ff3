"""The lab's helper services on the bridge (apt cache, SMTP sink): found by their pid file, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def running(pidfile: Path) -> int | None:
    """The pid in the file when that process is alive."""
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop(pidfile: Path, timeout: float = 5) -> None:
    pid = running(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running(pidfile) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
