"""Fictional club registries of any size, for tests and benchmarks (no real club, no personal data)."""

from __future__ import annotations

import itertools

from egov6.clubs.registry import Club, ClubFeatures, ClubRegistry
from egov6.config.schema import StackConfig

KINDS = (
    ("tv", "Turnverein"), ("gv", "Gesangverein"), ("sv", "Sportverein"), ("ff", "Förderverein Feuerwehr"),
    ("hv", "Heimatverein"), ("mv", "Musikverein"), ("kv", "Karnevalverein"), ("bv", "Bürgerverein"),
)  # fmt: skip


def fictional_registry(cfg: StackConfig, count: int, quota_gb: int = 1, prefix: str = "") -> ClubRegistry:
    """``count`` clubs spread over the stack's towns, numbered where a town has more clubs than kinds; ``prefix``
    keeps them apart from a stack's own clubs (benchmarks on a lab that has its registry applied)."""
    clubs = []
    # round after round: every town gets each kind of club once, then numbered again (product() would
    # materialise the endless count)
    combos = ((n, town, kind) for n in itertools.count(1) for kind, town in itertools.product(KINDS, cfg.towns))
    for number, town, (short, kind) in itertools.islice(combos, count):
        suffix = "" if number == 1 else f"-{number}"
        clubs.append(
            Club(
                slug=f"{prefix}{short}-{town.slug}{suffix}"[:40].rstrip("-"),
                name=f"{kind} {town.name}{'' if number == 1 else f' {number}'}"[:52].rstrip() + " (fictional)",
                town=town.slug,
                quota_gb=quota_gb,
                features=ClubFeatures(talk=False),
            )
        )
    return ClubRegistry(clubs=clubs)
