"""Audit report time (all three formats) for the production stack and for scaled stacks."""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

from egov6.audit.render import FORMATS, render
from egov6.audit.report import build_report
from egov6.config.loader import read_stack_file, stack_path
from egov6.config.scaled import scaled
from egov6.hetzner.evaluate import evaluate


def report_seconds(data: dict[str, Any], stack: str, repeat: int) -> tuple[float, float, int]:
    total, rendering, size = [], [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        report = build_report(copy.deepcopy(data), evaluate(copy.deepcopy(data), stack), stack)
        middle = time.perf_counter()
        size = sum(len(render(report, fmt)) for fmt in FORMATS)
        total.append(time.perf_counter() - began)
        rendering.append(time.perf_counter() - middle)
    return statistics.median(total), statistics.median(rendering), size


def main() -> None:
    production = read_stack_file(stack_path("production"))
    for label, data, repeat in (
        ("production", production, 5),
        ("scaled 100 hosts", scaled(production, 100), 3),
        ("scaled 500 hosts", scaled(production, 500), 1),
    ):
        seconds, rendering, size = report_seconds(data, label.split()[0], repeat)
        print(f"{label}: report in {seconds:.2f} s (rendering html+md+json {rendering:.2f} s, "
              f"{size / 1024:.0f} KiB written)")  # fmt: skip


if __name__ == "__main__":
    main()
