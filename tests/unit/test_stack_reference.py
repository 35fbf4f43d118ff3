"""The stack-file reference is generated from the schema and kept current, and it explains every key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from egov6.cli.main import app
from egov6.config.loader import load_stack_mapping
from egov6.config.reference import reference_markdown, stack_keys
from egov6.config.schema import PLACEHOLDER
from egov6.errors import ConfigError

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


def _filled(node: Any, example: Any) -> Any:
    """The template with each placeholder (and each empty optional value) replaced by the example stack's value at
    the same place; list entries whose placeholders the example has no value for are left out (the built-in users
    of a lab-only provider)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            sample = example.get(key) if isinstance(example, dict) else None
            if value in (PLACEHOLDER, [PLACEHOLDER]):
                if sample is None:
                    return None
                out[key] = sample
            elif value is None and sample is not None:  # an optional value the example sets (issuer, sha256)
                out[key] = sample
            else:
                filled = _filled(value, sample)
                out[key] = filled if filled is not None or value is None else []
        return out
    if isinstance(node, list) and node and isinstance(node[0], dict):
        entry = _filled(node[0], example[0] if isinstance(example, list) and example else None)
        return [entry] if entry is not None else []
    return node


def test_the_template_names_each_decision_and_validates_once_they_are_made(shipped: dict[str, Any]) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["stack", "template"])
    assert done.exit_code == 0
    document = yaml.safe_load(done.output)
    data = {key.removeprefix("egov6:"): value for key, value in document["config"].items()}
    with pytest.raises(ConfigError) as caught:
        load_stack_mapping(copy.deepcopy(data), "template")
    placeholders = done.output.count(PLACEHOLDER) - 1  # the header names it once
    assert len(caught.value.problems) == placeholders > 20
    assert all("placeholder CHANGE-ME" in reason for _key, reason in caught.value.problems)
    filled = _filled(data, shipped["production"])
    assert load_stack_mapping(filled, "filled template").environment == "production"
