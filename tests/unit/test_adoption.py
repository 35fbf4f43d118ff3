"""Another cooperation adopts the toolkit, a town joins one: everything shown to people carries the stack's names,
none of eGov6's (docs/adopting.md)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from egov6.cli.main import app
from egov6.config.loader import repo_root
from tests.unit.test_untrusted_input import _artefacts, _write

# eGov6's names as people see them. The toolkit's own name in technical identifiers (`egov6` in resource names,
# labels, paths and the process group's id) is not shown to people and may stay.
EGOV6_NAMES = re.compile(r"eGov6|EhrenamtsCloud|Wächtersbach|egov6-vereine")


def _second_cooperation(production: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(production)
    data.update(
        name="muster-prod",
        owner="musterland-it",
        cooperation={"name": "Zweckverband Digitales Musterland", "cloud_name": "VereinsWolke"},
        towns=[{"name": "Musterstadt", "slug": "musterstadt"}, {"name": "Beispieldorf", "slug": "beispieldorf"}],
        lead_town="Musterstadt",
        domain="vereine-musterland.de",
    )
    data["admins"] = [{**data["admins"][0], "name": "mmuster"}]
    data["admins"][0]["ssh_key"] = data["admins"][0]["ssh_key"].rsplit(" ", 1)[0] + " m.muster@musterland"
    data["processing"]["controller"] = {
        "name": "Stadt Musterstadt (lead of the Musterland cooperation)",
        "email": "datenschutz@musterstadt.example",
        "address": "Marktplatz 1, 12345 Musterstadt",
    }
    data["processing"]["dpo"] = {"name": "DPO of the Musterland cooperation", "email": "dsb@vereine-musterland.de"}
    data["processing"]["joint_controllership"] = "Musterland towns' agreement under Art. 26 GDPR of 2026-03-01"
    data["workflow"]["openid"].update(issuer="https://login.vereine-musterland.de/realms/main", client_id="muster")
    data["tls"]["acme_email"] = "it@vereine-musterland.de"
    return data


def test_a_second_cooperation_sees_only_its_own_names(shipped: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    data = _second_cooperation(shipped["production"])
    path = _write(tmp_path, "musterland", data)
    runner = CliRunner()
    assert runner.invoke(app, ["check", str(path)]).exit_code == 0
    result = runner.invoke(app, ["audit", str(path), "--format", "all", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    shown = {f.name: f.read_text(encoding="utf-8") for f in (tmp_path / "out").iterdir()}
    # What the hosts show: the process models (forms, process group), the decision table, the login banner.
    shown |= _artefacts(path, "musterland", tmp_path)
    models = repo_root() / "process-models"
    shown |= {f.name: f.read_text(encoding="utf-8") for f in models.rglob("*") if f.is_file() and f.suffix != ".j2"}
    leaks = {name: EGOV6_NAMES.findall(text) for name, text in shown.items() if EGOV6_NAMES.search(text)}
    assert leaks == {}
    report = shown["audit-musterland.md"]
    assert "Zweckverband Digitales Musterland" in report and "VereinsWolke" in report
    assert "Zweckverband Digitales Musterland" in shown["issue.net"]


@pytest.mark.parametrize("town", [{"name": "Neustadt am Main", "slug": "neustadt-am-main"}])
def test_a_town_joining_shows_up_in_the_report_and_the_eligibility_table(
    town: dict[str, str], shipped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    data = copy.deepcopy(shipped["production"])
    data["towns"].append(town)
    path = _write(tmp_path, "production", data)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["audit", str(path), "--format", "md", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "audit-production.md").read_text(encoding="utf-8")
    assert town["name"] in report.split("## Policy results")[0]  # among the towns
    assert f"jointly for {', '.join(t['name'] for t in data['towns'])}" in report  # in the Art. 30 controller line
    assert town["name"] in _artefacts(path, "production", tmp_path)["town-eligibility.dmn"]
