"""Workflow engine on the lab: start and complete 100 instances of the club application through the API.

Each instance: the clerk starts it and records the application (DMN eligibility runs), the designer approves it,
and the service task creates the club's group in Nextcloud. The same run measures 100 instances that the
designer declines (no Nextcloud call), so the share of the service task shows as a ratio from one run.
Needs the lab up and converged (`scripts/lab`); deletes the groups it made at the end (also on failure).
"""

from __future__ import annotations

import json
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cloud_client import Cloud
from tests.e2e.flow_client import Flow, Session

INSTANCES = 100


def one(clerk: Session, designer: Session, town: str, approve: bool, made: list[str]) -> float:
    slug = f"bench-{secrets.token_hex(4)}"
    began = time.perf_counter()
    instance = clerk.start()
    intake = clerk.ready_task(instance)
    assert intake, f"instance {instance}: no intake task"
    application = {"club_name": f"Verein {slug}", "club_slug": slug, "town": town, "contact_email": "b@example.org"}
    status, answer = clerk.complete(instance, intake, application)
    assert status == 200, answer
    approval = designer.ready_task(instance)
    assert approval, f"instance {instance}: no approval task"
    status, answer = designer.complete(instance, approval, {"approved": approve})
    assert status == 200, answer
    assert designer.instance(instance)["status"] == "complete"
    if approve:
        made.append(f"verein-{slug}")
    return time.perf_counter() - began


def series(clerk: Session, designer: Session, town: str, approve: bool, made: list[str]) -> dict[str, float]:
    began = time.perf_counter()
    timings = [one(clerk, designer, town, approve, made) for _ in range(INSTANCES)]
    total = time.perf_counter() - began
    ordered = sorted(timings)
    return {
        "total_s": round(total, 1),
        "per_instance_ms": round(1000 * total / INSTANCES, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * len(ordered)) - 1], 1),
    }


def main() -> int:
    flow, cloud = Flow.of_lab(), Cloud.of_lab()
    clerk, designer = flow.sign_in(flow.user("clerk")), flow.sign_in(flow.user("designer"))
    assert clerk and designer
    made: list[str] = []
    try:
        approved = series(clerk, designer, flow.towns[0], True, made)
        declined = series(clerk, designer, flow.towns[0], False, made)
        existing = json.loads(cloud.occ("group:list", "--output=json"))
        assert all(group in existing for group in made), "a service task did not create its group"
    finally:
        for group in made:
            cloud.remove_club(group.removeprefix("verein-"))
    print(f"{INSTANCES} instances approved (start, intake, DMN, approval, Nextcloud group): {approved}")
    print(f"{INSTANCES} instances declined (start, intake, DMN, approval, no service task): {declined}")
    print(f"ratio approved/declined per instance: {approved['per_instance_ms'] / declined['per_instance_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
