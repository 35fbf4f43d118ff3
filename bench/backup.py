"""Backups on the lab: backup time and deduplicated size for 1 GB of Nextcloud data (first and second run, the
second of unchanged data), then the restore drills (the cloud host's and the engine's newest archive, each onto a
fresh lab host).

Goal (issue "backups that are proven"): the drill ≤ 3 min for database + 1 GB on the lab; the second backup of
unchanged data ≤ 10 % of the first's time. The 1 GB goes in as a club member's uploads (Nextcloud encrypts it
server-side in the lab, so borg's compression finds nothing to save: the figures are for incompressible data).
Needs the lab up and converged (`scripts/lab`); removes the member and the files at the end (also on failure).

    .venv/bin/python bench/backup.py [--megabytes 1024]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cloud_client import Cloud

from egov6 import backup, drill
from egov6.cli.clubs import run_clubs
from egov6.orchestrate import Stack

STACK = "lab"
CLUB, FOLDER = "tv-sinntal", "Turnverein Sinntal (fictional)"
FILE_MB = 64


def chunks(megabytes: int) -> Iterator[bytes]:
    for _ in range(0, megabytes, 8):  # chunked upload v2: 8 MiB parts (Nextcloud wants at least 5 MiB)
        yield os.urandom(8 * 1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    args = parser.parse_args()
    stack = Stack.load(STACK)
    host = backup.clients(stack.topology)[0]
    cloud = Cloud.of_lab(STACK)
    member = cloud.user(f"bench-backup-{secrets.token_hex(3)}", secrets.token_urlsafe(18), group=f"verein-{CLUB}")
    run_clubs(STACK, "apply")
    try:
        began = time.monotonic()
        for index in range(max(1, args.megabytes // FILE_MB)):
            size = min(FILE_MB, args.megabytes) // 8 * 8 or 8
            member.upload_chunked(chunks(size), f"{FOLDER}/bench-{index:03d}.bin", size * 1024 * 1024)
        print(f"upload of {args.megabytes} MB into a club folder: {time.monotonic() - began:.1f} s")

        first = backup.run(stack.topology, host)
        second = backup.run(stack.topology, host)
        mib = 1024 * 1024
        print(f"first backup:  {first.seconds:6.1f} s, {first.original_size / mib:8.1f} MiB read, "
              f"{first.deduplicated_size / mib:8.1f} MiB new in the repository")  # fmt: skip
        print(f"second backup: {second.seconds:6.1f} s, {second.original_size / mib:8.1f} MiB read, "
              f"{second.deduplicated_size / mib:8.1f} MiB new in the repository")  # fmt: skip
        print(f"second / first time: {second.seconds / first.seconds:.1%} (goal ≤ 10 %); borg create alone: "
              f"{second.archive_seconds:.1f} s / {first.archive_seconds:.1f} s = "
              f"{second.archive_seconds / max(first.archive_seconds, 0.1):.1%}")  # fmt: skip
        print(
            f"Nextcloud in maintenance mode: {first.paused_seconds:.1f} s (first), {second.paused_seconds:.1f} s "
            "(second)"
        )

        report = drill.run(stack, progress=lambda _m: None)
        stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items())
        print(f"restore drill: {report.total:.1f} s ({stages}); restore alone {report.seconds['restore']:.1f} s")
        print("drill checks: " + ", ".join(f"{c.name} {c.state}" for c in report.checks))
        print("goal: drill ≤ 180 s for the database + 1 GB")
        engine = drill.run(stack, progress=lambda _m: None, role="flow")
        stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in engine.seconds.items())
        print(
            f"restore drill of the engine: {engine.total:.1f} s ({stages}); "
            + ", ".join(f"{c.name} {c.state}" for c in engine.checks)
        )
    finally:
        for index in range(max(1, args.megabytes // FILE_MB)):
            member.request("DELETE", member.files(f"{FOLDER}/bench-{index:03d}.bin"))
        cloud.occ("user:delete", member.name)
        cloud.occ("trashbin:cleanup", f"club-{CLUB}")


if __name__ == "__main__":
    main()
