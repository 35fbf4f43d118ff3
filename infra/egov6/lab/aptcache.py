"""apt-cacher-ng on the bridge address: the only way lab hosts reach Debian packages."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from egov6.lab import daemons

# The package's empty default backend picked a mirror that answered 503 here: name it explicitly.
BACKEND = "http://deb.debian.org/debian/"


def _config(confdir: Path, cache: Path, logs: Path, address: str, port: int) -> None:
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "backends_debian").write_text(BACKEND + "\n", encoding="utf-8")
    (confdir / "acng.conf").write_text(
        "\n".join(
            [
                f"CacheDir: {cache}",
                f"LogDir: {logs}",
                "SupportDir: /usr/lib/apt-cacher-ng",
                f"Port: {port}",
                f"BindAddress: {address}",
                "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian",
                "Remap-secdeb: security.debian.org ; deb.debian.org/debian-security",
                "ReportPage: acng-report.html",
                "ExThreshold: 4",
                "PassThroughPattern: .*",  # lets hosts reach HTTPS sources through CONNECT if ever needed
                "",
            ]
        ),
        encoding="utf-8",
    )


def start(state: Path, cache_root: Path, address: str, port: int) -> int:
    """Starts the cache (or finds it running) and returns its pid."""
    pidfile = state / "apt-cacher-ng.pid"
    pid = daemons.running(pidfile)
    if pid:
        return pid
    confdir, logs, cache = state / "apt-cacher-ng", state / "apt-cacher-ng-log", cache_root / "apt"
    for folder in (logs, cache):
        folder.mkdir(parents=True, exist_ok=True)
    _config(confdir, cache, logs, address, port)
    process = daemons.spawn(
        ["/usr/sbin/apt-cacher-ng", "-c", str(confdir), "ForeGround=1", f"PidFile={pidfile}"],
        logs / "stdout.log",
        pidfile,
    )

    def answers() -> bool:
        with urllib.request.urlopen(f"http://{address}:{port}/acng-report.html", timeout=2):
            return True

    daemons.wait_until_answering(process, answers, f"apt-cacher-ng on {address}:{port}", logs / "stdout.log")
    return process.pid


def stop(state: Path) -> None:
    daemons.stop(state / "apt-cacher-ng.pid")
