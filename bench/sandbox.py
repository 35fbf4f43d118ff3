"""systemd's exposure score (`systemd-analyze security`, 0 = closed … 10 = open) of every service unit egov6 runs on
the lab hosts: for Debian's units the vendor unit alone (before) and with egov6's sandbox drop-in (after), for
egov6's own units the installed unit. Goal (issue "untrusted input"): every unit ≤ 3.0, "OK".

    .venv/bin/python bench/sandbox.py [STACK]     # needs the converged lab (scripts/lab)
"""

from __future__ import annotations

import re
import subprocess
import sys

from egov6.config import load_stack
from egov6.lab.paths import LabPaths
from egov6.topology import build_topology

DEBIAN_UNITS = {
    "cloud": ["nginx", "php8.2-fpm", "postgresql@15-main", "redis-server", "coturn"],
    "flow": ["nginx", "postgresql@15-main"],
}
EGOV6_UNITS = {
    "cloud": ["nextcloud-cron", "egov6-provision@bench"],
    "flow": ["spiffworkflow-backend", "spiffworkflow-scheduler"],
}
GOAL = 3.0
SCORE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)")


def on_host(stack: str, host: str, command: str) -> str:
    done = subprocess.run(["ssh", "-F", str(LabPaths(stack).ssh_config), host, command],
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    return done.stdout + done.stderr


def exposure(stack: str, host: str, unit: str, vendor_only: bool = False) -> tuple[float, str]:
    if vendor_only:
        # The vendor unit under another name: systemd then finds none of egov6's drop-ins for it.
        base = unit.split("@", maxsplit=1)[0] + ("@" if "@" in unit else "")
        copy = f"$d/debian-{base}.service"
        command = (f"d=$(mktemp -d) && cp /lib/systemd/system/{base}.service {copy} && "
                   f"sudo systemd-analyze security --offline=true --no-pager {copy}; rm -r $d")  # fmt: skip
    else:
        command = f"sudo systemd-analyze security --no-pager {unit}.service"
    match = SCORE.search(on_host(stack, host, command))
    return (float(match.group(1)), match.group(2)) if match else (float("nan"), "?")


def main() -> int:
    stack = sys.argv[1] if len(sys.argv) > 1 else "lab"
    topology = build_topology(load_stack(stack), stack)
    worst = 0.0
    print(f"{'host':<20} {'unit':<26} {'before (Debian)':>16} {'after (egov6)':>16}")
    for role in ("cloud", "flow"):
        host = topology.by_role(role)[0].name
        for unit in DEBIAN_UNITS[role]:
            before, before_word = exposure(stack, host, unit, vendor_only=True)
            after, word = exposure(stack, host, unit)
            worst = max(worst, after)
            print(f"{host:<20} {unit:<26} {before:>7.1f} {before_word:<8} {after:>7.1f} {word:<8}")
        for unit in EGOV6_UNITS[role]:
            after, word = exposure(stack, host, unit)
            worst = max(worst, after)
            print(f"{host:<20} {unit:<26} {'(egov6 unit)':>16} {after:>7.1f} {word:<8}")
    print(f"highest exposure after: {worst:.1f} (goal ≤ {GOAL}: {'met' if worst <= GOAL else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
