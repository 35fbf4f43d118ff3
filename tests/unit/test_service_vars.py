"""What the inventory hands the service roles, derived from the stack (never typed twice), and the workflow
engine's controller-side build."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from egov6.config import load_stack
from egov6.inventory import Connection, service_vars
from egov6.outputs import LETS_ENCRYPT, AcmeOutput
from egov6.topology import build_topology


def test_flow_vars_follow_the_stack() -> None:
    topology = build_topology(load_stack("lab"), "lab")
    flow = service_vars(topology, "flow", Connection(user="egov6", local_dir=Path("/tmp/local")))
    cfg = topology.config
    assert flow["spiffworkflow_domain"] == cfg.fqdn("flow") == "flow.lab.egov6.test"
    assert flow["tls_domains"] == ["flow.lab.egov6.test"]
    assert [t["slug"] for t in flow["spiffworkflow_towns"]] == [t.slug for t in cfg.towns]
    assert flow["spiffworkflow_nextcloud_url"] == "https://cloud.lab.egov6.test"
    cloud_ip = topology.by_role("cloud")[0].private_ip
    assert flow["spiffworkflow_nextcloud_hosts"] == {"cloud.lab.egov6.test": cloud_ip}
    assert flow["spiffworkflow_archive_path"].endswith("spiff-arena-3.0.0.tar.zst")
    assert len(flow["spiffworkflow_archive_sha256"]) == 64
    assert {u["role"] for u in flow["spiffworkflow_users"]} == {"designer", "clerk"}


def test_certificates_come_from_the_acme_server_the_outputs_name() -> None:
    production = build_topology(load_stack("production"), "production")
    cloud = service_vars(production, "cloud", Connection(user="egov6", local_dir=Path("/tmp/local")))
    # production: Let's Encrypt, whose roots Debian ships: nothing extra to trust, on the hosts or the controller
    assert (cloud["acme_directory"], cloud["tls_trusted_roots"], cloud["egov6_trust_bundle"]) == (
        LETS_ENCRYPT.directory,
        [],
        "",
    )
    assert cloud["acme_email"] == production.config.tls.acme_email
    lab = build_topology(load_stack("lab"), "lab")
    pebble = AcmeOutput(directory="https://10.66.1.1:443/dir", roots=("lab CA", "Pebble root"))
    flow = service_vars(lab, "flow", Connection(user="egov6", local_dir=Path("/tmp/local"), acme=pebble))
    assert flow["acme_directory"] == "https://10.66.1.1:443/dir"
    assert flow["tls_trusted_roots"] == ["lab CA", "Pebble root"]
    assert flow["egov6_trust_bundle"] == "/tmp/local/trusted-roots.pem"


def test_the_engine_reaches_only_the_provisioning_door_and_only_from_the_flow_hosts() -> None:
    topology = build_topology(load_stack("lab"), "lab")
    cloud = service_vars(topology, "cloud", Connection(user="egov6"))
    flow = service_vars(topology, "flow", Connection(user="egov6"))
    flow_ips = [h.private_ip for h in topology.by_role("flow")]
    assert cloud["nextcloud_admin_ranges"] == [str(r) for r in topology.config.admin_ranges], "no admin from flow"
    assert cloud["nextcloud_provision_clients"] == [{"name": "egov6-flow", "addresses": flow_ips}]
    assert flow["spiffworkflow_provision_client"] == "egov6-flow"
    assert "nextcloud_service_accounts" not in cloud


def test_production_uses_an_external_provider_and_upstream_archives() -> None:
    flow = service_vars(build_topology(load_stack("production"), "production"), "flow", Connection(user="egov6"))
    assert flow["spiffworkflow_openid_provider"] == "external"
    assert flow["spiffworkflow_openid_issuer"].startswith("https://")
    assert flow["spiffworkflow_users"] == []
    assert flow["spiffworkflow_archive_url"].startswith("https://github.com/sartography/spiff-arena/")
    assert "spiffworkflow_archive_path" not in flow


def test_wheelhouse_requirements_leave_out_mysql_and_let_pins_win(build_release: ModuleType, tmp_path: Path) -> None:
    def project(name: str, text: str) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(text, encoding="utf-8")
        return tmp_path / name

    deps = ", ".join(f'"{d}"' for d in ("flask == 3.1.3", "mysqlclient >= 2.2.6", "SpiffWorkflow>=3.1.3a1",
                                         "spiff-arena-common", "spiffworkflow-connector-command"))  # fmt: skip
    backend = project("backend", f'[project]\nname="b"\ndependencies=[{deps}]\n')
    common = project("common", '[project]\nname="c"\ndependencies=["Jinja2==3.1.6", "SpiffWorkflow==3.1.3a9"]\n')
    connector = project("connector", '[tool.poetry.dependencies]\npython="^3.9"\nrequests="^2.28.2"\n')
    wanted = build_release.requirements(backend, common, connector, ["SpiffWorkflow==3.1.3a1780622559"])
    assert wanted == ["flask == 3.1.3", "SpiffWorkflow>=3.1.3a1", "Jinja2==3.1.6", "requests",
                      "SpiffWorkflow==3.1.3a1780622559"]  # fmt: skip
