"""The auditor report: content, no secrets in any format, transfers checked, change review between revisions."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from egov6.audit.diff import compare, declared_at
from egov6.audit.render import FORMATS, diagram_svg, render
from egov6.audit.report import build_report, report_for_stack, transfers
from egov6.cli.main import app
from egov6.declared import Declaration
from egov6.errors import Egov6Error
from egov6.hetzner.evaluate import RecordingMocks, evaluate

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
KNOWN_SECRETS = ("hcloud-token-7f3a9c2e1d", "storagebox-password-5b8e0a4f")


@pytest.fixture(scope="module")
def report(shipped: dict[str, dict[str, Any]]) -> dict[str, Any]:
    declaration = evaluate(copy.deepcopy(shipped["production"]), "production")
    return build_report(copy.deepcopy(shipped["production"]), declaration, "Pulumi.production.yaml")


def test_report_lists_every_cloud_resource_with_location_protection_and_labels(
    report: dict[str, Any], production: Declaration
) -> None:
    hcloud = [r for r in production.resources if r.type.startswith("hcloud:")]
    rows = {r["name"]: r for r in report["resources"]}
    assert {r.name for r in hcloud} <= set(rows)
    server = rows["egov6-prod-cloud1-server"]
    assert server["location"] == "fsn1" and server["delete_protection"] and server["rebuild_protection"]
    assert server["labels"]["data-classification"] == "personal"


def test_exposure_per_host_comes_from_the_firewall_declaration(report: dict[str, Any]) -> None:
    cloud = {(e["protocol"], e["port"]) for e in report["exposure"] if e["host"] == "egov6-prod-cloud1"}
    assert {("tcp", "443"), ("udp", "49152-65535"), ("tcp", "22")} <= cloud
    flow = {(e["protocol"], e["port"]) for e in report["exposure"] if e["host"] == "egov6-prod-flow1"}
    assert ("udp", "3478") not in flow
    ssh = [e for e in report["exposure"] if e["port"] == "22"]
    assert all("0.0.0.0/0" not in e["from"] for e in ssh)


def test_data_categories_processors_and_measures(report: dict[str, Any]) -> None:
    names = {c["name"] for c in report["data_categories"]}
    assert {
        "Club files",
        "Calendars",
        "Contact data of clubs",
        "Workflow case data",
        "Logs",
        "Backups",
    } <= names
    logs = next(c for c in report["data_categories"] if c["name"] == "Logs")
    assert "journald: 90 days" in logs["retention"]  # read from the base role's defaults (90day), where enforced
    backups = next(c for c in report["data_categories"] if c["name"] == "Backups")
    assert "6 monthly" in backups["retention"] and "no backup job runs yet" in backups["retention"]  # production
    assert report["processors"][0]["name"] == "Hetzner Online GmbH"
    assert "2026-02-02" in report["processors"][0]["agreement"]
    implemented = [m for m in report["measures"] if m["status"] == "implemented"]
    assert implemented and all(e["exists"] for m in implemented for e in m["evidence"])


def test_the_report_claims_only_what_is_enforced(shipped: dict[str, dict[str, Any]]) -> None:
    """Encryption at rest counts as implemented only where a role enforces it (Nextcloud server-side encryption);
    backups only where the backup roles write (a backup host), restore tests where the drill runs (the lab)."""
    status = {}
    for name in ("production", "lab"):
        data = copy.deepcopy(shipped[name])
        built = build_report(data, evaluate(copy.deepcopy(data), name), name)
        status[name] = {m["id"]: (m["status"], m["note"]) for m in built["measures"]}
    assert status["production"]["ENC-01"][0] == "implemented" and "LUKS2 volumes" in status["production"]["ENC-01"][1]
    assert status["lab"]["ENC-01"] == ("implemented", "")
    assert status["lab"]["BAK-03"] == status["lab"]["BAK-04"] == ("implemented", "")
    for measure in ("BAK-03", "BAK-04"):
        assert status["production"][measure][0] == "planned" and "storage_box" in status["production"][measure][1]
    assert status["lab"]["BAK-05"] == ("implemented", "")
    assert status["production"]["BAK-05"][0] == "planned" and "drill" in status["production"]["BAK-05"][1]


def test_a_measure_whose_role_the_converge_does_not_apply_is_not_claimed(
    shipped: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remove the storage role from the baseline play: encryption at rest by LUKS volumes is then only declared."""
    from egov6.audit import report as audit_report
    from egov6.config.loader import repo_root

    plays = yaml.safe_load((repo_root() / "playbooks" / "site.yml").read_text(encoding="utf-8"))
    for play in plays:
        play["roles"] = [r for r in play.get("roles", []) if (r if isinstance(r, str) else r["role"]) != "storage"]
    site = tmp_path / "site.yml"
    site.write_text(yaml.safe_dump(plays), encoding="utf-8")
    data = copy.deepcopy(shipped["production"])
    before = {
        m["id"]: m for m in build_report(data, evaluate(copy.deepcopy(data), "production"), "production")["measures"]
    }
    monkeypatch.setattr(audit_report, "SITE", str(site))
    after = {
        m["id"]: m for m in build_report(data, evaluate(copy.deepcopy(data), "production"), "production")["measures"]
    }
    assert before["ENC-01"]["status"] == "implemented"
    assert after["ENC-01"]["status"] == "declared, not enforced"
    assert f"role storage is not applied by {site}" in after["ENC-01"]["note"]
    # nothing else depended on the storage role
    assert {k for k in before if before[k]["status"] != after[k]["status"]} == {"ENC-01"}


def test_the_backup_section_says_what_is_set_up(shipped: dict[str, dict[str, Any]]) -> None:
    found = {}
    for name in ("production", "lab"):
        data = copy.deepcopy(shipped[name])
        found[name] = build_report(data, evaluate(copy.deepcopy(data), name), name)["backup"]
    assert found["lab"]["enforced"] and "repokey-blake2" in found["lab"]["encryption"]
    assert "append-only" in found["lab"]["client_keys"] and "egov6 backup prune" in found["lab"]["retention_applied"]
    assert "drill" in found["lab"]["restore_test"]
    production = found["production"]
    assert not production["enforced"] and production["target"] == "storage_box"
    assert production["encryption"] == production["client_keys"] == "declared, not set up"
    assert production["restore_test"] == "none yet"


def test_processing_register_has_one_record_per_service(report: dict[str, Any]) -> None:
    services = [r["service"] for r in report["processing_register"]]
    assert len(services) == 2 and services[0].startswith("EhrenamtsCloud")
    record = report["processing_register"][0]
    assert "Stadt Wächtersbach" in record["controller"] and "Steinau" in record["controller"]
    assert "Main-Kinzig-Straße 31, 63607 Wächtersbach" in record["controller"]  # the controller's address
    assert "Art. 26" in record["joint_controllership"]  # as the stack declares the towns' arrangement
    # Checked, not assumed: production takes certificates from Let's Encrypt (USA), which receives the service
    # names and the ACME contact address; the Nextcloud app store only the cloud host contacts.
    assert "Let's Encrypt" in record["third_country_transfers"] and "USA" in record["third_country_transfers"]
    contacted = {c["name"].split(" (")[0] for c in record["contacted"]}
    assert {"Hetzner Online GmbH", "Debian project", "Let's Encrypt", "Nextcloud GmbH"} <= contacted
    flow = {c["name"].split(" (")[0] for c in report["processing_register"][1]["contacted"]}
    assert "Nextcloud GmbH" not in flow and "Let's Encrypt" in flow
    for rec in report["processing_register"]:
        assert len(rec["data_subjects"]) == len(set(rec["data_subjects"])), rec["data_subjects"]
    assert record["data_subjects"].count("club members") == 1


def test_a_stack_without_lets_encrypt_names_no_third_country(shipped: dict[str, dict[str, Any]]) -> None:
    data = copy.deepcopy(shipped["lab"])  # the lab's own ACME server (Pebble on the controller): not Let's Encrypt
    built = build_report(data, evaluate(copy.deepcopy(data), "lab"), "lab")
    assert all(rec["third_country_transfers"] == "none" for rec in built["processing_register"])


def test_transfers_are_checked_not_assumed(production: Declaration) -> None:
    assert transfers(production)["verdict"] == "none"
    moved = [replace(r, props={**r.props, "location": "ash"}) if r.kind == "Server" else r
             for r in production.resources]  # fmt: skip
    found = transfers(Declaration(production.stack, tuple(moved), {}))
    assert found["verdict"] == "TRANSFERS FOUND"
    assert {t["location"] for t in found["outside_eu"]} == {"ash"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_in_any_format(fmt: str, shipped: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Known secret values in the stack file and in generated passwords never reach the report."""
    data = copy.deepcopy(shipped["production"])
    document = {"config": {f"egov6:{k}": v for k, v in data.items()}}
    document["config"]["hcloud:token"] = KNOWN_SECRETS[0]
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    declaration = evaluate(copy.deepcopy(data), "production", RecordingMocks(password=KNOWN_SECRETS[1]))
    boxes = [r for r in declaration.resources if r.kind == "StorageBox"]
    assert KNOWN_SECRETS[1] in json.dumps(boxes[0].props)  # the secret really was declared …
    text = render(build_report(data, declaration, path.name), fmt)
    for secret in KNOWN_SECRETS:  # … and is absent from the report
        assert secret not in text
    result = runner.invoke(app, ["audit", str(path), "--format", fmt, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / f"audit-production.{fmt}").read_text(encoding="utf-8")
    assert all(secret not in written for secret in KNOWN_SECRETS)


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_report_names_the_stack_file_its_hash_and_the_commit(
    fmt: str, shipped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """A DPO can tell which declaration a report shows, also for a stack file kept outside the repository."""
    document = {"config": {f"egov6:{k}": v for k, v in shipped["production"].items()}}
    path = tmp_path / "elsewhere" / "Pulumi.production.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["audit", str(path), "--format", fmt, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / f"audit-production.{fmt}").read_text(encoding="utf-8")
    assert hashlib.sha256(path.read_bytes()).hexdigest() in written
    assert str(path) in written  # outside the repository: the path as given
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert commit.stdout.strip() in written
    shipped_report = report_for_stack(ROOT / "stacks" / "Pulumi.lab.yaml")
    assert shipped_report["meta"]["source"] == "stacks/Pulumi.lab.yaml"  # inside: relative to the repository


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_stack_text_is_text_in_the_report_not_markup(fmt: str, shipped: dict[str, dict[str, Any]]) -> None:
    """The lab stack names its cooperation and a town with quotes, & and <…>: shown as text, never as markup."""
    data = copy.deepcopy(shipped["lab"])
    text = render(build_report(data, evaluate(copy.deepcopy(data), "lab"), "lab"), fmt)
    assert "<Co>" not in text and "<am>" not in text
    assert "&lt;Co&gt;" in text and "&lt;am&gt;" in text


def test_html_is_self_contained_with_the_diagram(report: dict[str, Any]) -> None:
    html = render(report, "html")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert diagram_svg(report) in html
    assert "cloud × 1" in html and "Storage Box (nbg1)" in html


def test_markdown_has_a_mermaid_diagram(report: dict[str, Any]) -> None:
    md = render(report, "md")
    assert "```mermaid" in md and "storagebox" in md
    assert "## Record of processing activities (GDPR Art. 30)" in md


def test_scaled_stack_diagram_groups_hosts_by_role(production_data: dict[str, Any]) -> None:
    from egov6.config.scaled import scaled

    data = scaled(production_data, 120)
    report = build_report(copy.deepcopy(data), evaluate(copy.deepcopy(data), "scaled"), "scaled")
    svg = diagram_svg(report)
    assert "cloud × 1" in svg and "flow × 119" in svg
    assert svg.count('class="host"') == 2


def test_diagram_port_labels_stay_in_their_role_column(report: dict[str, Any]) -> None:
    """One port per line, inside its role's box (they used to run into the neighbouring role's label)."""
    svg = diagram_svg(report)
    columns = [float(x) for x in re.findall(r'<rect class="host" x="([0-9.]+)"', svg)]
    labels = re.findall(r'<text class="ports" x="([0-9.]+)"[^>]*>(.*?)</text>', svg)
    assert len(labels) == len(columns) == 2
    for (x, inner), column in zip(labels, columns, strict=True):
        lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", inner)
        assert lines and all(len(line) <= 24 for line in lines), lines  # 10 px text, < 100 px wide
        assert float(x) == column + 100  # centred in the 200 px wide box


def test_diff_of_a_revision_with_itself_is_empty() -> None:
    head = declared_at("HEAD", "production")
    assert compare(head, head).empty


def test_diff_reports_resources_exposure_and_policy_changes() -> None:
    before = declared_at("HEAD", "production")
    after = copy.deepcopy(before)
    after["resources"]["extra-volume"] = {"type": "hcloud:index/volume:Volume", "size": 10}
    del after["resources"]["egov6-prod-flow1-db"]
    after["resources"]["egov6-prod-cloud1-server"]["serverType"] = "cx52"
    after["exposure"].append("flow tcp/5432 from 0.0.0.0/0,::/0")
    after["policies"]["NET-03"] = ["egov6-prod-flow-fw: PostgreSQL (port 5432) is reachable from outside"]
    diff = compare(before, after)
    assert diff.added == ["extra-volume"] and diff.removed == ["egov6-prod-flow1-db"]
    assert diff.changed == {"egov6-prod-cloud1-server": ["serverType"]}
    assert diff.exposure_added == ["flow tcp/5432 from 0.0.0.0/0,::/0"]
    assert diff.policies == {"NET-03": ("pass", "fail")}


def test_diff_of_a_stack_file_outside_the_repository(tmp_path: Path) -> None:
    """Another cooperation's stack file, kept in its own place, under the toolkit of two revisions."""
    # The production stack as committed (the toolkit at HEAD must understand it), renamed.
    committed = subprocess.run(["git", "show", "HEAD:stacks/Pulumi.production.yaml"], capture_output=True,
                               text=True, check=True, cwd=ROOT).stdout  # fmt: skip
    path = tmp_path / "config" / "Pulumi.muster.yaml"
    path.parent.mkdir()
    path.write_text(committed.replace("egov6:name: egov6-prod", "egov6:name: muster-prod"), encoding="utf-8")
    declared = declared_at("HEAD", str(path))
    assert "muster-prod-cloud1-server" in declared["resources"]  # the outside file, not the repository's
    result = runner.invoke(app, ["audit", "diff", str(path), "HEAD", "HEAD"])
    assert result.exit_code == 0, result.output
    assert "no change" in result.output


def test_diff_cli_with_an_unknown_revision_is_a_clean_error() -> None:
    result = runner.invoke(app, ["audit", "diff", "production", "no-such-rev", "HEAD"])
    assert result.exit_code == 1
    assert "no-such-rev" in result.output
    with pytest.raises(Egov6Error):
        declared_at("no-such-rev", "production")


def test_audit_rejects_a_broken_stack_file(
    production_data: dict[str, Any], write_stack: Callable[..., Path], tmp_path: Path
) -> None:
    data = copy.deepcopy(production_data)
    data["hosts"]["cloud"]["location"] = "sin"
    result = runner.invoke(app, ["audit", str(write_stack(data)), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "egov6:hosts.cloud.location" in result.output
    assert not (tmp_path / "r").exists()
