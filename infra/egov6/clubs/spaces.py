"""Club spaces: the registry as desired state, planned and applied on the cloud host in one PHP process.

The provisioning code (the nextcloud role's ``egov6-clubs.php``) runs on the cloud host, where Nextcloud and its
admin credential stay; the controller sends it the desired state (no secret in it) over the stack's SSH
connection (the pinned host key, the automation account) and reads back what it would change or changed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from egov6.clubs.registry import Club, ClubRegistry, quota_gb
from egov6.config.schema import StackConfig
from egov6.errors import Egov6Error
from egov6.remote import on_host
from egov6.topology import Topology

PROVISIONER = "/usr/local/sbin/egov6-clubs"  # the nextcloud role installs it
Mode = Literal["plan", "apply"]


@dataclass(frozen=True)
class Change:
    club: str
    item: str  # group, account, quota, folder, share, calendar, calendar-share, access, space, club
    action: str  # create, update, enable, disable, delete, refused
    detail: str = ""


@dataclass
class ClubRun:
    mode: Mode
    changes: list[Change] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # club, what failed
    unregistered: list[dict[str, str]] = field(default_factory=list)  # provisioned by the engine, not in the registry
    skipped: list[dict[str, str]] = field(default_factory=list)  # {club, item, reason}: what this cloud cannot offer
    seconds: float = 0.0

    @property
    def clubs_changed(self) -> int:
        return len({c.club for c in self.changes})


def club_state(club: Club, cfg: StackConfig) -> dict[str, Any]:
    return {
        "slug": club.slug,
        "name": club.name,
        "quota": f"{quota_gb(club, cfg)} GB",
        "calendar": club.features.calendar,
        "talk": club.features.talk,
        "state": club.state,
        "offboarded_on": club.offboarded_on.isoformat() if club.offboarded_on else None,
        "origin": "registry",
    }


def desired_state(registry: ClubRegistry, cfg: StackConfig, today: dt.date | None = None) -> dict[str, Any]:
    """What the cloud host's provisioner takes on stdin: every club of the registry, the day and the retention."""
    return {
        "today": (today or dt.date.today()).isoformat(),
        "retention_days": cfg.nextcloud.club_retention_days,
        "clubs": [club_state(club, cfg) for club in registry.clubs],
    }


def cloud_host(topology: Topology) -> str:
    hosts = topology.by_role("cloud")
    if not hosts:
        raise Egov6Error(f"stack {topology.stack} has no cloud host: club spaces live on the cloud host")
    return hosts[0].name


def _ask(topology: Topology, mode: str, request: dict[str, Any], what: str, timeout: float) -> dict[str, Any]:
    """One run of the cloud host's provisioner over the stack's SSH connection (pinned host key, automation
    account), the request on stdin, its JSON answer back; a host that cannot be reached or a run that fails says
    so, and nothing is reported as done that was not."""
    host = cloud_host(topology)
    done = on_host(topology.stack, host, f"sudo -n {PROVISIONER} {mode}", what, timeout, json.dumps(request))
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no answer"]
        raise Egov6Error(f"{host}: {what} failed (exit {done.returncode}): {detail[0]}") from None
    if answer.get("error"):
        raise Egov6Error(f"{host}: {answer['error']}")
    return answer


def run_provisioner(topology: Topology, mode: Mode, desired: dict[str, Any], timeout: float = 3600) -> ClubRun:
    """Plans or applies the desired state on the cloud host."""
    answer = _ask(topology, mode, desired, "the club provisioner", timeout)
    return ClubRun(
        mode=mode,
        changes=[Change(**change) for change in answer["changes"]],
        errors=[(error["club"], error["error"]) for error in answer["errors"]],
        unregistered=list(answer["unregistered"]),
        skipped=list(answer.get("skipped", [])),
    )


@dataclass(frozen=True)
class Invitation:
    account: str  # the account egov6 named (never the e-mail)
    created: bool
    admin: bool
    mail_error: str  # empty: the relay took the welcome mail


def invite(topology: Topology, slug: str, email: str, admin: bool, timeout: float = 300) -> Invitation:
    """Invites a club contact on the cloud host: account, group (sub-admin with ``admin``), welcome mail."""
    answer = _ask(topology, "invite", {"club": slug, "email": email, "admin": admin}, "the invitation", timeout)
    return Invitation(answer["account"], answer["created"], answer["admin"], answer["mail_error"])
