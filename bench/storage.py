"""The cloud host's data volume against its root filesystem: sequential write and read throughput with direct I/O
(no page cache: a container cannot drop the shared kernel's caches), measured in one run, as a ratio.

In the lab the volume is a loop device over a sparse file on the lab machine's disk, the root filesystem a folder
on the same disk: the ratio shows what the loop device costs, not what a Hetzner volume delivers (production
figures come from running this against a production host's inventory entry by hand). Needs the lab up and
converged (`scripts/lab`); removes its files at the end (also on failure).

    .venv/bin/python bench/storage.py [--megabytes 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.lab_service import as_root

from egov6.lab.paths import LabPaths
from egov6.orchestrate import Stack
from egov6.topology import VOLUME_MOUNTS

STACK = "lab"


def _mb_per_s(output: str) -> float:
    """dd's summary line: '... bytes (...) copied, 1.23 s, 456 MB/s' (or GB/s)."""
    found = re.search(r"copied, [\d.]+ s, ([\d.]+) ([MG])B/s", output)
    if not found:
        raise RuntimeError(f"no dd summary in: {output[-300:]}")
    return float(found.group(1)) * (1000 if found.group(2) == "G" else 1)


def measure(host: str, folder: str, megabytes: int) -> tuple[float, float]:
    path = f"{folder}/egov6-bench.bin"
    write = (f"dd if=/dev/urandom of=/var/tmp/egov6-bench.src bs=1M count={megabytes} status=none && "
             f"dd if=/var/tmp/egov6-bench.src of={path} bs=1M oflag=direct conv=fsync 2>&1 | tail -1")  # fmt: skip
    read = f"dd if={path} of=/dev/null bs=1M iflag=direct 2>&1 | tail -1"
    config = LabPaths(STACK).ssh_config
    try:
        wrote = as_root(config, host, write)
        taken = as_root(config, host, read)
        return _mb_per_s(wrote.stdout + wrote.stderr), _mb_per_s(taken.stdout + taken.stderr)
    finally:
        as_root(config, host, f"rm -f {path} /var/tmp/egov6-bench.src")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    host = Stack.load(STACK).topology.by_role("cloud")[0].name
    places = {"data volume": VOLUME_MOUNTS["data"], "root filesystem": "/var/tmp"}  # noqa: S108 on the lab host
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in places}
    for _ in range(args.rounds):  # interleaved: both places see the same machine load
        for name, folder in places.items():
            figures[name].append(measure(host, folder, args.megabytes))
    medians = {name: tuple(statistics.median(f[i] for f in runs) for i in (0, 1)) for name, runs in figures.items()}
    for name, (write, read) in medians.items():
        print(f"{name:16s} write {write:8.1f} MB/s   read {read:8.1f} MB/s   ({args.megabytes} MB, direct I/O, "
              f"median of {args.rounds})")  # fmt: skip
    volume, root = medians["data volume"], medians["root filesystem"]
    print(f"ratio volume/root: write {volume[0] / root[0]:.2f}, read {volume[1] / root[1]:.2f}")


if __name__ == "__main__":
    main()
