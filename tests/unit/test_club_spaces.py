"""Club spaces: the registry as the cloud host's desired state, and the commands' refusals before anything runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from egov6.cli.clubs import adopted_text
from egov6.cli.main import app
from egov6.clubs.fictional import fictional_registry
from egov6.clubs.registry import ClubRegistry, load_registry, registry_path
from egov6.clubs.spaces import desired_state
from egov6.config import load_stack

runner = CliRunner()


def test_desired_state_carries_quota_calendar_state_and_retention() -> None:
    cfg = load_stack("lab")
    registry = load_registry("lab", cfg)
    state = desired_state(registry, cfg, dt.date(2026, 11, 28))
    assert state["today"] == "2026-11-28" and state["retention_days"] == cfg.nextcloud.club_retention_days
    by_slug = {club["slug"]: club for club in state["clubs"]}
    assert len(by_slug) == len(registry.clubs)
    assert by_slug["gv-waechtersbach"]["quota"] == "5 GB"  # declared
    assert by_slug["tv-waechtersbach"]["quota"] == f"{cfg.nextcloud.club_quota_gb} GB"  # the stack's default
    assert all(club["calendar"] is True and club["state"] == "active" for club in state["clubs"])
    json.dumps(state)  # what goes over SSH: plain JSON, no secret


def test_an_offboarded_club_keeps_its_date() -> None:
    cfg = load_stack("lab")
    registry = ClubRegistry.model_validate(
        {
            "clubs": [
                {
                    "slug": "tv-x",
                    "name": "TV X",
                    "town": "birstein",
                    "state": "offboarded",
                    "offboarded_on": "2026-01-02",
                }
            ]
        }
    )
    (club,) = desired_state(registry, cfg)["clubs"]
    assert (club["state"], club["offboarded_on"]) == ("offboarded", "2026-01-02")


@pytest.mark.parametrize("count", [12, 600, 6000])
def test_fictional_registries_of_any_size_are_valid(count: int, tmp_path: Path) -> None:
    cfg = load_stack("lab")
    registry = fictional_registry(cfg, count)
    path = tmp_path / "clubs.yaml"
    path.write_text(yaml.safe_dump(registry.model_dump(mode="json", exclude_defaults=True)), encoding="utf-8")
    loaded = load_registry("lab", cfg, path)  # duplicate slugs, towns, quotas: validated as the repo's file
    assert len(loaded.clubs) == count
    assert {club.town for club in loaded.clubs} == {town.slug for town in cfg.towns}  # spread over every town


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_broken_registry_is_refused_before_the_cloud_host_is_asked(command: str, tmp_path: Path) -> None:
    path = tmp_path / "clubs.yaml"
    path.write_text("clubs:\n  - {slug: tv-x, name: TV X, town: atlantis}\n", encoding="utf-8")
    result = runner.invoke(app, ["clubs", command, "lab", "--registry", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and "clubs[0].town" in result.output and "atlantis" in result.output
    assert "nothing was applied" in result.output
    assert "club spaces on the cloud host" not in result.output  # the provisioner never ran


def test_adopting_appends_valid_entries_and_keeps_the_files_text(tmp_path: Path) -> None:
    cfg = load_stack("lab")
    path = tmp_path / "clubs.yaml"
    path.write_text(registry_path("lab").read_text(encoding="utf-8"), encoding="utf-8")
    hostile = 'Schützen & "Söhne" <b>bold</b> $(id); rm -rf / e.V.'
    text = adopted_text(path, [{"slug": "sv-adopted", "name": hostile, "town": cfg.towns[0].slug}])
    assert text.startswith(path.read_text(encoding="utf-8"))  # comments and entries kept as written
    path.write_text(text, encoding="utf-8")
    registry = load_registry("lab", cfg, path)
    assert registry.clubs[-1].slug == "sv-adopted" and registry.clubs[-1].name == hostile


def test_adopting_into_a_stack_without_a_registry_starts_one(tmp_path: Path) -> None:
    cfg = load_stack("lab")
    path = tmp_path / "clubs.yaml"
    path.write_text(adopted_text(path, [{"slug": "tv-new", "name": "TV New", "town": cfg.towns[1].slug}]), "utf-8")
    assert [c.slug for c in load_registry("lab", cfg, path).clubs] == ["tv-new"]


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr", "expected"),
    [
        (255, "", "ssh: connect to host 10.66.1.10 port 22: Connection refused", "Connection refused"),
        (255, "", "Host key verification failed.", "Host key verification failed"),
        (1, "", "PHP Fatal error:  Uncaught Doctrine\\DBAL\\Exception: could not connect", "could not connect"),
    ],
)
def test_an_unreachable_cloud_says_so_and_reports_nothing_done(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, returncode: int, stdout: str, stderr: str, expected: str
) -> None:
    import subprocess

    from egov6.clubs import spaces
    from egov6.errors import Egov6Error
    from egov6.orchestrate import Stack

    stack = Stack.load("lab")
    from egov6 import remote

    monkeypatch.setattr(remote, "local_dir", lambda _stack: tmp_path)
    (tmp_path / "ssh_config").write_text("", encoding="utf-8")
    monkeypatch.setattr(
        subprocess, "run", lambda *_a, **_k: subprocess.CompletedProcess([], returncode, stdout, stderr)
    )
    with pytest.raises(Egov6Error, match=f"egov6-lab-cloud1: the club provisioner failed .*{expected}"):
        spaces.run_provisioner(stack.topology, "apply", desired_state(stack.clubs, stack.config))


def test_an_invitation_to_no_address_is_refused_before_the_cloud_host_is_asked() -> None:
    result = runner.invoke(app, ["clubs", "invite", "lab", "tv-birstein", "not-an-address"])
    assert result.exit_code == 2
    assert "not an e-mail address" in result.output and "nothing was applied" in result.output
