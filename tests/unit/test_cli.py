"""The egov6 command, driven through typer's CliRunner: exit codes and what the user reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egov6.cli.main import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["-h"])
    assert result.exit_code == 0
    for command in ("check", "preview", "up"):
        assert command in result.output


@pytest.mark.parametrize("stack", ["lab", "staging", "production"])
def test_check_shipped_stack_is_compliant(stack: str) -> None:
    result = runner.invoke(app, ["check", stack])
    assert result.exit_code == 0, result.output
    assert "14 policies passed" in result.output


def test_check_reports_policy_violation_with_rule_and_resource(
    production_data: dict[str, Any], write_stack: Callable[..., Path]
) -> None:
    data = copy.deepcopy(production_data)
    data["backup"]["location"] = "fsn1"  # same location as the servers
    result = runner.invoke(app, ["check", str(write_stack(data))])
    assert result.exit_code == 1
    assert "violation BAK-03 egov6-prod-backup-box" in result.output
    assert "same location" in result.output


def test_check_broken_file_names_file_key_reason_and_runs_nothing(
    production_data: dict[str, Any], write_stack: Callable[..., Path]
) -> None:
    data = copy.deepcopy(production_data)
    data["hosts"]["cloud"]["location"] = "ash"
    path = write_stack(data)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert str(path.name) in result.output
    assert "egov6:hosts.cloud.location" in result.output
    assert "nothing was applied" in result.output
    assert "evaluating" not in result.output  # the program never ran


def test_check_unknown_stack_is_a_clean_error() -> None:
    result = runner.invoke(app, ["check", "nowhere"])
    assert result.exit_code == 2
    assert "Pulumi.nowhere.yaml" in result.output and "not found" in result.output


PUBLIC_RANGES = ["185.12.64.0/27", "2a01:4f8:c0c::/48"]  # real-looking, global: what a town hall would declare


@pytest.mark.parametrize("command", ["preview", "up"])
def test_cloud_commands_refuse_placeholder_admin_ranges_before_anything(command: str) -> None:
    """The shipped stacks keep documentation ranges (and pass `check`); deploying them is refused first."""
    result = runner.invoke(app, [command, "production", "--yes"] if command == "up" else [command, "production"])
    assert result.exit_code == 1
    assert "egov6:admin_ranges[0]" in result.output and "198.51.100.0/27" in result.output
    assert "nothing was applied" in result.output
    assert "pulumi" not in result.output.lower().replace("pulumi.production.yaml", "")


def test_preview_without_pulumi_cli_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, production_data: dict[str, Any], write_stack: Callable[..., Path]
) -> None:
    production_data["admin_ranges"] = PUBLIC_RANGES
    path = write_stack(production_data)
    monkeypatch.setenv("PATH", "")
    result = runner.invoke(app, ["preview", str(path)])
    assert result.exit_code == 1
    assert "Pulumi CLI is not installed" in result.output
    assert "pulumi login" in result.output


def test_cloud_commands_refuse_the_lab_stack() -> None:
    result = runner.invoke(app, ["preview", "lab"])
    assert result.exit_code == 1
    assert "lab stack" in result.output
