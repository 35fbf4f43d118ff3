"""Pulumi program evaluation under mocks: production stack and scaled stacks; `egov6 check` end to end.

Goal (issue "declared infrastructure"): production stack ≤ 2 s, cost linear in hosts.
"""

from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from egov6.config.loader import read_stack_file, stack_path
from egov6.config.scaled import scaled
from egov6.hetzner.evaluate import evaluate
from egov6.policies import evaluate_policies

REPEAT = 5


def timed(data: dict[str, Any], stack: str, repeat: int = REPEAT) -> tuple[float, int]:
    runs, count = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        declaration = evaluate(copy.deepcopy(data), stack)
        evaluate_policies(declaration.resources)
        runs.append(time.perf_counter() - began)
        count = len(declaration.resources)
    return statistics.median(runs), count


def main() -> None:
    production = read_stack_file(stack_path("production"))
    seconds, resources = timed(production, "production")
    print(f"production stack: {seconds * 1000:.0f} ms (median of {REPEAT}, {resources} resources), goal ≤ 2 s")
    per_host = {}
    for hosts in (10, 100, 500):
        seconds, resources = timed(scaled(production, hosts), "scaled", repeat=3 if hosts < 500 else 1)
        per_host[hosts] = seconds / hosts
        print(f"{hosts:>4} hosts: {seconds:7.2f} s, {resources:>5} resources, {per_host[hosts] * 1000:5.1f} ms/host")
    print(f"linearity: time per host at 500 / at 10 = {per_host[500] / per_host[10]:.2f} (1.0 = linear)")
    exe = Path(sys.executable).parent / "egov6"
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([str(exe), "check", "production"], check=True, capture_output=True)
        runs.append(time.perf_counter() - began)
    print(f"egov6 check production (whole command, process start included): {statistics.median(runs):.2f} s")


if __name__ == "__main__":
    main()
