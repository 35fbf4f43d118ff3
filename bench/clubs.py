"""Club spaces on the lab: apply of N fictional clubs from empty with egov6's provisioner (one PHP process on the
cloud host) against a naive loop of one occ process per item (group, account, quota, folder, share, calendar),
measured side by side on the same lab; then a no-op plan and a no-op apply of all N.

Goal (issue "club spaces"): apply of 600 clubs ≥ 10 times faster than the naive loop; a no-op plan/apply of 600 ≤ 15 s.
The naive loop runs on a sample (default 10 clubs: one occ process costs about a second here, 600 clubs would
take hours); its time per club is what the ratio compares. Needs the lab up and converged (`scripts/lab`).
Removes every club space it made at the end (also on failure).

    .venv/bin/python bench/clubs.py [--count 600] [--naive 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from egov6.clubs.fictional import fictional_registry
from egov6.clubs.registry import ClubRegistry
from egov6.clubs.spaces import ClubRun, cloud_host, desired_state, run_provisioner
from egov6.inventory import inventory_dir, read_inventory_file
from egov6.orchestrate import Stack

STACK = "lab"


def ssh(stack: Stack, command: str) -> str:
    config = stack.local / "ssh_config"
    done = subprocess.run(["ssh", "-F", str(config), cloud_host(stack.topology), command],
                          capture_output=True, text=True, check=True, timeout=36000)  # fmt: skip
    return done.stdout


def naive(stack: Stack, registry: ClubRegistry) -> float:
    """One occ process per item, as a script around occ would do it: group, account, quota, calendar; occ has no
    command for a folder or a group share, so those are a WebDAV and an OCS request as the club account."""
    cloud = read_inventory_file(inventory_dir(STACK) / "group_vars" / "cloud" / "egov6.yml")
    domain = cloud["nextcloud_domain"]
    curl = f"curl -sf -o /dev/null -k --resolve {domain}:443:127.0.0.1"
    lines = []
    for club in registry.clubs:
        uid, gid, name = f"naive-{club.slug}", f"naive-verein-{club.slug}", shlex.quote(club.name)
        lines += [
            f"egov6-occ group:add --display-name={name} {gid}",
            "P=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')",
            f"OC_PASS=$P egov6-occ user:add --password-from-env {uid} >/dev/null",
            f"egov6-occ user:setting {uid} files quota '1 GB'",
            # occ has no command for a folder or a group share: WebDAV and OCS as the club account
            f"{curl} -u {uid}:$P -X MKCOL https://{domain}/remote.php/dav/files/{uid}/Verein",
            f"{curl} -u {uid}:$P -H 'OCS-APIRequest: true' -d path=/Verein -d shareType=1 -d shareWith={gid} "
            f"-d permissions=15 https://{domain}/ocs/v2.php/apps/files_sharing/api/v1/shares",
            f"egov6-occ dav:create-calendar {uid} verein",
        ]
    script = "set -e\n" + "\n".join(lines) + "\n"
    began = time.perf_counter()
    done = subprocess.run(["ssh", "-F", str(stack.local / "ssh_config"), cloud_host(stack.topology), "sudo bash -s"],
                          input=script, text=True, check=False, capture_output=True, timeout=36000)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"the naive loop failed: {done.stdout[-1500:]} {done.stderr[-800:]}")
    return time.perf_counter() - began


def remove_naive(stack: Stack, registry: ClubRegistry) -> None:
    script = "".join(
        f"egov6-occ user:delete naive-{c.slug} >/dev/null 2>&1 || true\n"
        f"egov6-occ group:delete naive-verein-{c.slug} >/dev/null 2>&1 || true\n"
        for c in registry.clubs
    )
    subprocess.run(["ssh", "-F", str(stack.local / "ssh_config"), cloud_host(stack.topology), "sudo bash -s"],
                   input=script, text=True, check=False, capture_output=True, timeout=36000)  # fmt: skip


def timed(stack: Stack, mode: str, registry: ClubRegistry, today: dt.date | None = None) -> tuple[float, ClubRun]:
    began = time.perf_counter()
    run = run_provisioner(stack.topology, mode, desired_state(registry, stack.config, today))  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    assert not run.errors, run.errors[:3]
    return seconds, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--naive", type=int, default=10, help="clubs in the naive occ loop's sample")
    args = parser.parse_args()
    stack = Stack.load(STACK)
    registry = fictional_registry(stack.config, args.count, prefix="b")  # apart from clubs/lab.yaml
    sample = ClubRegistry(clubs=registry.clubs[: args.naive])
    gone = ClubRegistry(clubs=[c.model_copy(update={"state": "offboarded", "offboarded_on": dt.date(2000, 1, 1)})
                               for c in registry.clubs])  # fmt: skip
    try:
        naive_seconds = naive(stack, sample)
        per_naive = naive_seconds / len(sample.clubs)
        print(f"naive occ loop, {len(sample.clubs)} clubs (5 occ processes + 2 HTTPS requests each): "
              f"{naive_seconds:.1f} s = {per_naive:.2f} s per club "
              f"→ {per_naive * args.count / 60:.1f} min for {args.count}")  # fmt: skip
        applied, run = timed(stack, "apply", registry)
        per_batch = applied / args.count
        print(f"egov6 apply from empty, {args.count} clubs ({len(run.changes)} items): {applied:.1f} s "
              f"= {per_batch * 1000:.0f} ms per club")  # fmt: skip
        print(f"speed-up per club, naive / egov6: {per_naive / per_batch:.1f}× (goal ≥ 10×)")
        plan_seconds, plan = timed(stack, "plan", registry)
        again, noop = timed(stack, "apply", registry)
        print(f"no-op plan of {args.count}: {plan_seconds:.1f} s ({len(plan.changes)} changes); "
              f"no-op apply: {again:.1f} s ({len(noop.changes)} changes) (goal ≤ 15 s)")  # fmt: skip
    finally:
        remove_naive(stack, sample)
        removed, _run = timed(stack, "apply", gone)
        print(f"clean-up (delete after retention) of {args.count} club spaces: {removed:.1f} s")


if __name__ == "__main__":
    main()
