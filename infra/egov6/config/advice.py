"""Warnings on a valid stack file: what Hetzner or reality will likely refuse, or what looks copied from another
cooperation, that the schema cannot know for sure. They never stop a command; `egov6 check` prints them."""

from __future__ import annotations

import datetime as dt
import ipaddress
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from egov6.config.schema import StackConfig

KNOWN_TYPES_FILE = Path(__file__).with_name("hetzner.yaml")
REVIEW_INTERVAL = dt.timedelta(days=365)


@cache
def known_server_types() -> tuple[str, tuple[str, ...]]:
    """(as of, types) from the list kept in the repository."""
    data = yaml.safe_load(KNOWN_TYPES_FILE.read_text(encoding="utf-8"))
    return str(data["as_of"]), tuple(data["server_types"])


def _inside(host: str, domain: str) -> bool:
    return host == domain or host.endswith(f".{domain}")


def stack_warnings(cfg: StackConfig, today: dt.date | None = None) -> list[tuple[str, str]]:
    """Each warning is (key path, what looks wrong and what to do)."""
    today = today or dt.date.today()
    as_of, types = known_server_types()
    warnings = [
        (
            f"hosts.{role}.server_type",
            f"{group.server_type} is not among the Hetzner server types egov6 knows (list of {as_of} in "
            "infra/egov6/config/hetzner.yaml): Hetzner may refuse it",
        )
        for role, group in cfg.hosts.items()
        if group.server_type not in types
    ]
    if cfg.environment != "lab":  # the lab's own ranges and towns stand for nothing real
        warnings += [
            (
                f"admin_ranges[{index}]",
                f"{net} is a private, reserved or documentation range: admins reach the hosts over the Internet, "
                "from the public egress addresses of their town halls",
            )
            for index, net in enumerate(map(ipaddress.ip_network, cfg.admin_ranges))
            if not net.is_global
        ]
        if cfg.smtp is None:
            warnings.append(("smtp", "no mail relay: club contacts cannot be invited (egov6 clubs invite)"))
        if cfg.backup.target == "storage_box":
            warnings.append(
                (
                    "backup.target",
                    "the Storage Box is declared, but no role writes backups to it yet: "
                    "until it does, the service hosts of this stack are not backed up (README, Backups)",
                )
            )
        warnings += [
            (
                f"towns[{index}].address",
                f"{town.name} has no address: the Art. 30 record names each joint controller with its contact details",
            )
            for index, town in enumerate(cfg.towns)
            if not town.address
        ]
    issuer = cfg.workflow.openid.issuer if cfg.workflow else None
    host = urlsplit(issuer).hostname or "" if issuer else ""
    if host and not _inside(host, cfg.domain):
        warnings.append(
            (
                "workflow.openid.issuer",
                f"{host} lies outside the stack's domain {cfg.domain}: copied from another cooperation's stack?",
            )
        )
    due = cfg.processing.dpa_reviewed + REVIEW_INTERVAL
    if due < today:
        warnings.append(
            (
                "processing.dpa_reviewed",
                f"the yearly review of the data-processing agreement was due on {due} ({(today - due).days} days ago)",
            )
        )
    return warnings
