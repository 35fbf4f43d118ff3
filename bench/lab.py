"""The lab: base image (cold) and host creation (cached); the stages of `egov6 up lab` (provision → outputs →
inventory → converge → verify, the one path of every stack); how long a fresh cloud host waits for its first
certificate from the ACME server; a no-op converge; per host the Lynis hardening index and the ssh-audit result.

Creates its own lab from nothing and removes it at the end (also on failure). Goals (issue "the lab"):
no-op/first converge ≤ 0.15, no-op ≤ 45 s; Lynis ≥ 80 with the base role; ssh-audit without failures.

    .venv/bin/python bench/lab.py [--cold]     # --cold also rebuilds the base image in a fresh cache folder
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from egov6.cli.lab import converge_stack, provision_lab
from egov6.lab import image
from egov6.lab.backend import LabBackend, UpReport
from egov6.lab.paths import LabPaths
from egov6.orchestrate import Stack, up
from egov6.runner import RunResult

STACK = "lab"


def ssh(config: Path, host: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(config), host, command], capture_output=True, text=True, check=False, timeout=900
    )


def lynis_index(config: Path, host: str) -> str:
    ssh(config, host, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis >/dev/null 2>&1")
    out = ssh(config, host, "sudo lynis audit system --quick --no-colors 2>/dev/null").stdout
    found = re.search(r"Hardening index : (\d+)", out)
    return found.group(1) if found else "n/a"


def ssh_audit(address: str) -> str:
    exe = Path(sys.executable).parent / "ssh-audit"
    done = subprocess.run([str(exe), "--no-colors", address], capture_output=True, text=True, check=False)
    fails = [line.strip() for line in done.stdout.splitlines() if "[fail]" in line]
    warns = [line for line in done.stdout.splitlines() if "[warn]" in line]
    verdict = {0: "good", 1: "connection error", 2: "warnings", 3: "failures"}.get(done.returncode, "?")
    detail = f"; first failure: {fails[0]}" if fails else ""
    return f"exit {done.returncode} ({verdict}), {len(fails)} failures, {len(warns)} warnings{detail}"


def print_role_times(run: RunResult) -> None:
    """Where a no-op converge spends its time: per host and role, the sum of its tasks' durations."""
    hosts = sorted({host for host, _role in run.role_seconds})
    total = {role: sum(s for (_h, r), s in run.role_seconds.items() if r == role) for _h, role in run.role_seconds}
    print(f"no-op converge per role (s, sum of task durations; hosts run in parallel): {'  '.join(hosts)}")
    for role in sorted(total, key=lambda r: -total[r]):
        cells = "  ".join(f"{run.role_seconds.get((host, role), 0.0):>{len(host)}.1f}" for host in hosts)
        print(f"  {role:<14} {cells}")


def first_certificate(run: RunResult, host: str) -> tuple[float, float] | None:
    """From the first converge's events: seconds from its start until ``host`` held its first certificate from the
    ACME server, and how long certbot's order itself took."""
    events = [json.loads(path.read_text(encoding="utf-8")) for path in (run.artifacts / "job_events").glob("*.json")]
    began = min(dt.datetime.fromisoformat(e["created"]) for e in events if "created" in e)
    asked = next((e["event_data"] for e in events
                  if e.get("event") in ("runner_on_ok", "runner_on_changed")
                  and e["event_data"].get("host") == host
                  and e["event_data"].get("task") == "Ask the ACME server"), None)  # fmt: skip
    if asked is None:
        return None
    end, start = dt.datetime.fromisoformat(asked["end"]), dt.datetime.fromisoformat(asked["start"])
    return (end - began.replace(tzinfo=end.tzinfo)).total_seconds(), (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also time a base image build in a fresh cache")
    parser.add_argument("--no-hardening", action="store_true", help="skip the Lynis and ssh-audit figures")
    args = parser.parse_args()
    stack = Stack.load(STACK)
    backend = LabBackend(stack.topology)
    backend.down(progress=lambda _m: None)
    if args.cold:
        with tempfile.TemporaryDirectory() as fresh:
            began = time.perf_counter()
            image.ensure_image(Path(fresh) / "debian-12-base.tar.zst")  # the image with cloud-init
            print(f"base image build (cold, debootstrap): {time.perf_counter() - began:.1f} s")
    try:
        reports: list[UpReport] = []
        times, first_run = up(stack, lambda: reports.append(provision_lab(backend)))
        report, hosts = reports[0], len(stack.topology.hosts)
        print(f"image build during this up: {'yes' if report.image_built else 'no (cached)'}")
        print(f"host creation (cached image, unpack + boot to the pinned host key): "
              f"{report.create_seconds / hosts:.1f} s per host")  # fmt: skip
        total = sum(times.stages.values())
        print(f"egov6 up lab ({hosts} hosts): {total:.1f} s")
        for stage, seconds in times.stages.items():
            print(f"  {stage:<10} {seconds:7.1f} s  ({seconds / total:.0%})")
        first = times.stages["converge"]
        cloud = stack.topology.by_role("cloud")[0].name
        found = first_certificate(first_run, cloud)
        boot = report.create_seconds / hosts
        if found is None:
            print(f"{cloud} ordered no certificate in its first converge (it had one)")
        else:
            until, order = found
            print(f"fresh cloud host to its first certificate: {boot + until:.1f} s (boot {boot:.1f} s, then "
                  f"{until:.1f} s into its first converge; the ACME order itself {order:.1f} s)")  # fmt: skip
        began = time.perf_counter()
        second = converge_stack(STACK)
        noop = time.perf_counter() - began
        config = LabPaths(STACK).ssh_config
        print(f"no-op converge: {noop:.1f} s (changed={second.changed})")
        print(f"no-op / first: {noop / first:.2f} (goal ≤ 0.15; no-op goal ≤ 45 s)")
        print_role_times(second)
        for host in [] if args.no_hardening else backend.topology.hosts:
            print(f"{host.name}: Lynis hardening index {lynis_index(config, host.name)}; "
                  f"ssh-audit {ssh_audit(host.private_ip)}")  # fmt: skip
    finally:
        if not os.environ.get("EGOV6_BENCH_KEEP"):
            backend.down(progress=lambda _m: None)


if __name__ == "__main__":
    main()
