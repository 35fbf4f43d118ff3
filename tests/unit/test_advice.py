"""`egov6 check` warns (and still passes) on what Hetzner or reality will likely refuse, or what looks copied."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from egov6.cli.main import app
from egov6.config.advice import known_server_types, stack_warnings
from egov6.config.loader import load_stack_mapping
from egov6.config.schema import StackConfig


def _config(data: dict[str, Any]) -> StackConfig:
    return load_stack_mapping(copy.deepcopy(data), "test")


def _soon_after_review(cfg: StackConfig) -> dt.date:
    return cfg.processing.dpa_reviewed + dt.timedelta(days=30)


def test_shipped_stacks_warn_only_about_their_placeholders(shipped: dict[str, dict[str, Any]]) -> None:
    production = _config(shipped["production"])
    keys = [key for key, _ in stack_warnings(production, _soon_after_review(production))]
    # The shipped cloud stacks use documentation addresses (RFC 5737, RFC 3849) as placeholders, only the
    # lead town's address is declared so far, no mail relay is chosen yet (invitations need one), and the Storage
    # Box they declare is not written to by any role yet (an admin must not learn that from a lost server).
    expected = ["admin_ranges[0]", "admin_ranges[1]", "smtp", "backup.target"]
    assert keys == [*expected, *[f"towns[{i}].address" for i in range(1, 6)]]
    lab = _config(shipped["lab"])
    assert stack_warnings(lab, _soon_after_review(lab)) == []  # private ranges are the lab's own


def test_an_unknown_server_type_is_named_with_the_date_of_the_list(production_data: dict[str, Any]) -> None:
    production_data["hosts"]["flow"]["server_type"] = "cx99"
    cfg = _config(production_data)
    found = dict(stack_warnings(cfg, _soon_after_review(cfg)))
    as_of, types = known_server_types()
    assert "cx42" in types and "cx99" in found["hosts.flow.server_type"] and as_of in found["hosts.flow.server_type"]


def test_an_issuer_of_another_cooperation_is_flagged(production_data: dict[str, Any]) -> None:
    production_data["workflow"]["openid"]["issuer"] = "https://login.other-cooperation.de/realms/main"
    cfg = _config(production_data)
    found = dict(stack_warnings(cfg, _soon_after_review(cfg)))
    assert "outside the stack's domain" in found["workflow.openid.issuer"]


def test_an_overdue_agreement_review_is_flagged(production_data: dict[str, Any]) -> None:
    cfg = _config(production_data)
    late = cfg.processing.dpa_reviewed + dt.timedelta(days=365 + 400)
    found = dict(stack_warnings(cfg, late))
    assert "400 days ago" in found["processing.dpa_reviewed"]
    assert "processing.dpa_reviewed" not in dict(stack_warnings(cfg, _soon_after_review(cfg)))


def test_check_prints_warnings_and_still_passes(
    production_data: dict[str, Any], write_stack: Callable[..., Path]
) -> None:
    production_data["hosts"]["cloud"]["server_type"] = "cx99"
    path = write_stack(production_data, name="production")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "egov6:hosts.cloud.server_type" in result.output and "cx99" in result.output
