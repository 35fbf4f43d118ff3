"""The club registry of a stack (``clubs/<stack>.yaml``): which clubs have a space in the club cloud, in which town,
with which quota and features, and whether they are active or offboarded. It holds no personal data: the clubs'
contacts live only in Nextcloud (their accounts). Validated as strictly as the stack file, and against it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from egov6.config.loader import read_yaml, repo_root, validation_problems
from egov6.config.schema import MAX_CLUB_QUOTA_GB, StackConfig, Strict
from egov6.errors import ConfigError

KIND = "club registry"
# The group of a club is verein-<slug>: a Nextcloud group id, a DAV path segment, a log field.
CLUB_SLUG = r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"


class ClubFeatures(Strict):
    calendar: bool = Field(True, description="A calendar owned by the club, shared read/write with its members")
    talk: bool = Field(True, description="A Talk room for the club where the Talk app is installed")


class Club(Strict):
    slug: str = Field(pattern=CLUB_SLUG, description="Short name: the club's group is verein-<slug>")
    name: str = Field(
        min_length=3,
        max_length=64,
        description="The club's name, as registered (Nextcloud shows at most 64 characters)",
    )
    town: str = Field(description="Slug of the town the club is seated in (one of the stack's towns)")
    quota_gb: int | None = Field(
        None,
        ge=1,
        le=MAX_CLUB_QUOTA_GB,
        description="Quota of the club's space in GB; default the stack's club_quota_gb",
    )
    features: ClubFeatures = Field(ClubFeatures(), description="What the club's space offers")
    state: Literal["active", "offboarded"] = Field("active", description="offboarded: access ends, data is kept")
    offboarded_on: dt.date | None = Field(None, description="offboarded: the day the club left (retention starts)")

    @model_validator(mode="after")
    def _offboarding_date(self) -> Club:
        if self.state == "offboarded" and self.offboarded_on is None:
            raise ValueError("an offboarded club needs offboarded_on (the day its retention period starts)")
        if self.state == "active" and self.offboarded_on is not None:
            raise ValueError("an active club has no offboarded_on (remove it when the club comes back)")
        return self


class ClubRegistry(Strict):
    clubs: list[Club] = Field(default_factory=list, description="One entry per club")


def registry_path(stack: str) -> Path:
    return repo_root() / "clubs" / f"{stack}.yaml"


def _cross_problems(registry: ClubRegistry, cfg: StackConfig) -> list[tuple[str, str]]:
    """What one entry cannot know: the stack's towns, the other entries."""
    towns = [town.slug for town in cfg.towns]
    problems = [
        (f"clubs[{index}].town", f"{club.town!r} is not one of the stack's towns: {', '.join(towns)}")
        for index, club in enumerate(registry.clubs)
        if club.town not in towns
    ]
    counts = Counter(club.slug for club in registry.clubs)
    problems += [
        (f"clubs[{index}].slug", f"duplicate slug {club.slug!r} (each club has its own group verein-{club.slug})")
        for index, club in enumerate(registry.clubs)
        if counts[club.slug] > 1
    ]
    return problems


def load_registry(stack: str, cfg: StackConfig, path: Path | None = None) -> ClubRegistry:
    """The stack's registry, validated; a stack without a registry file has no clubs yet."""
    path = path or registry_path(stack)
    if not path.exists():
        return ClubRegistry()
    document = read_yaml(path, KIND)
    if not isinstance(document, dict):
        raise ConfigError(str(path), [("-", "a club registry is a mapping with a 'clubs:' list")], KIND)
    try:
        registry = ClubRegistry.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc, ClubRegistry, namespace=""), KIND) from None
    problems = _cross_problems(registry, cfg)
    if problems:
        raise ConfigError(str(path), problems, KIND)
    return registry


def quota_gb(club: Club, cfg: StackConfig) -> int:
    return club.quota_gb or cfg.nextcloud.club_quota_gb
