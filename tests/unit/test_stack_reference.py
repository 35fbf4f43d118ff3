"""The stack-file reference is generated from the schema and kept current, and it explains every key."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from egov6.cli.main import app
from egov6.config.reference import reference_markdown, stack_keys

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "stack-reference.md"


def test_the_reference_in_the_repo_is_the_schemas() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/stack-reference.md is stale: regenerate it with `egov6 stack reference > docs/stack-reference.md`"
    )


def test_every_key_says_what_it_means_and_what_it_accepts() -> None:
    keys = stack_keys()
    assert len(keys) > 80  # the whole schema, nested keys included
    unexplained = [key.path for key in keys if not key.meaning or not key.accepts]
    assert unexplained == []


def test_the_reference_names_units_defaults_and_examples() -> None:
    rows = {line.split("|")[1].strip(): line for line in reference_markdown().splitlines() if line.startswith("| `")}
    assert "GB" in rows["`nextcloud.club_quota_gb`"] and "per club" in rows["`nextcloud.club_quota_gb`"]
    assert "`1024`" in rows["`nextcloud.club_quota_gb`"]  # the default
    assert "| yes |" in rows["`processing.dpa_reviewed`"] and "YYYY-MM-DD" in rows["`processing.dpa_reviewed`"]
    assert "`production`" in rows["`environment`"]  # an example from the production stack file
    assert "town halls" in rows["`admin_ranges`"]


def test_the_cli_prints_the_reference() -> None:
    done = CliRunner().invoke(app, ["stack", "reference"])
    assert done.exit_code == 0
    assert done.output == reference_markdown()
