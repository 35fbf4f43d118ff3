"""The club registry (clubs/<stack>.yaml): validated as strictly as the stack file, and against the stack."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from egov6.cli.main import app
from egov6.clubs.registry import load_registry, quota_gb, registry_path
from egov6.config.loader import load_stack
from egov6.errors import ConfigError

LAB = load_stack("lab")


def test_the_lab_ships_two_fictional_clubs_per_town() -> None:
    registry = load_registry("lab", LAB)
    assert sorted(club.town for club in registry.clubs) == sorted([t.slug for t in LAB.towns] * 2)
    gesang = next(c for c in registry.clubs if c.slug == "gv-birstein")
    assert quota_gb(gesang, LAB) == 5 and gesang.features.talk is False and gesang.features.calendar is True
    turn = next(c for c in registry.clubs if c.slug == "tv-birstein")
    assert quota_gb(turn, LAB) == LAB.nextcloud.club_quota_gb  # the stack's default
    assert "@" not in registry_path("lab").read_text(encoding="utf-8")  # no contact data in the repository


CLUB = {"slug": "sv-musterhausen", "name": "Sportverein Musterhausen", "town": "birstein"}
BROKEN: list[tuple[str, list[dict[str, Any]], str, str]] = [
    ("duplicate slug", [CLUB, {**CLUB, "name": "Another club"}], "clubs[1].slug", "duplicate slug"),
    ("unknown town", [{**CLUB, "town": "gelnhausen"}], "clubs[0].town", "not one of the stack's towns"),
    ("quota over 1 TB", [{**CLUB, "quota_gb": 2048}], "clubs[0].quota_gb", "1024"),
    ("malformed slug", [{**CLUB, "slug": "SV Musterhausen"}], "clubs[0].slug", "string should match"),
    ("template syntax", [{**CLUB, "name": "{{ lookup('pipe', 'id') }}"}], "clubs[0].name", "template syntax"),
    ("line break", [{**CLUB, "name": "Verein\nX=1"}], "clubs[0].name", "control"),
    ("offboarded without a date", [{**CLUB, "state": "offboarded"}], "clubs[0]", "offboarded_on"),
    ("unknown state", [{**CLUB, "state": "paused"}], "clubs[0].state", "active"),
    ("typo of a key", [{**CLUB, "qouta_gb": 5}], "clubs[0].qouta_gb", "did you mean 'quota_gb'?"),
]


@pytest.mark.parametrize(("case", "clubs", "where", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_registry_is_refused_naming_file_entry_and_key(
    case: str, clubs: list[dict[str, Any]], where: str, reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump({"clubs": copy.deepcopy(clubs)}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_registry("lab", LAB, path)
    assert caught.value.path == str(path) and caught.value.kind == "club registry"
    matching = [r for k, r in caught.value.problems if k == where]
    assert any(reason.lower() in r.lower() for r in matching), f"{case}: {caught.value.problems}"


def test_duplicate_keys_and_broken_yaml_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text("clubs:\n  - slug: a-b\n    slug: c-d\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_registry("lab", LAB, path)
    assert caught.value.problems[0][0].startswith("line 3")


def test_a_stack_without_a_registry_has_no_clubs() -> None:
    assert load_registry("production", load_stack("production")).clubs == []


def test_the_cli_checks_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["clubs", "check", "lab"])
    assert done.exit_code == 0, done.output
    assert "14 clubs, valid" in done.output
    broken = tmp_path / "lab.yaml"
    broken.write_text(yaml.safe_dump({"clubs": [{**CLUB, "town": "gelnhausen"}]}), encoding="utf-8")
    monkeypatch.setattr("egov6.clubs.registry.registry_path", lambda _stack: broken)
    done = runner.invoke(app, ["clubs", "check", "lab"])
    assert done.exit_code == 2
    assert f"invalid club registry {broken}" in done.output and "clubs[0].town" in done.output
