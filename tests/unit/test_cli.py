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


def test_preview_without_pulumi_cli_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    result = runner.invoke(app, ["preview", "production"])
    assert result.exit_code == 1
    assert "Pulumi CLI is not installed" in result.output
    assert "pulumi login" in result.output


def test_cloud_commands_refuse_the_lab_stack() -> None:
    result = runner.invoke(app, ["preview", "lab"])
    assert result.exit_code == 1
    assert "lab stack" in result.output
