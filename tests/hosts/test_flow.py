"""The workflow engine host: SpiffArena with PostgreSQL behind nginx (roles tls, postgresql, nginx,
spiffworkflow). Expected values come from the generated inventory."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.hosts.web import assert_modern_tls_only, fetch

testinfra_hosts = ["flow"]

MODEL = "/var/lib/spiffworkflow/process-models/egov6/club-application"


@pytest.mark.parametrize("service", ["postgresql", "nginx", "spiffworkflow-backend", "spiffworkflow-scheduler"])
def test_services_run(host: Any, service: str) -> None:
    assert host.service(service).is_running, service
    assert host.service(service).is_enabled, service


def engine_ports(host: Any) -> set[int]:
    """The TCP ports the engine's API server (gunicorn) listens on."""
    with host.sudo():
        listing = host.check_output("ss -Hltnp")
    ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in listing.splitlines() if '"gunicorn"' in line}
    assert ports, "the API server listens nowhere"
    return ports


def test_engine_and_database_listen_on_loopback_only(host: Any) -> None:
    with host.sudo():
        sockets = host.socket.get_listening_sockets()
    for port in engine_ports(host) | {5432}:
        found = [s for s in sockets if s.endswith(f":{port}")]
        assert found and all("127.0.0.1" in s or "::1" in s for s in found), found


def test_engine_and_database_unreachable_from_the_other_hosts(host: Any, inventory_vars: dict[str, Any]) -> None:
    """The cloud host (same private network) cannot open the engine's or the database's port."""
    cloud = host.get_host(f"ansible://{next(iter(inventory_vars['groups']['cloud']))}",
                          ansible_inventory=host.backend.ansible_inventory)  # fmt: skip
    for port in engine_ports(host) | {5432}:
        probe = cloud.run(f"timeout 3 bash -c '</dev/tcp/{inventory_vars['egov6_private_ip']}/{port}'")
        assert probe.rc != 0, f"port {port} of the flow host is reachable from the cloud host"


def test_api_answers_through_nginx(host: Any, inventory_vars: dict[str, Any]) -> None:
    headers = fetch(host, inventory_vars, inventory_vars["spiffworkflow_domain"], "https://{domain}/api/v1.0/status")
    assert headers.startswith("HTTP/2 200"), headers.splitlines()[0]


def test_frontend_served_on_the_same_origin(host: Any, inventory_vars: dict[str, Any]) -> None:
    headers = fetch(host, inventory_vars, inventory_vars["spiffworkflow_domain"], "https://{domain}/process-groups")
    assert headers.startswith("HTTP/2 200") and "content-type: text/html" in headers.lower()


def test_demo_token_endpoint_refused_from_outside(host: Any, inventory_vars: dict[str, Any]) -> None:
    """The built-in provider's token endpoint trusts any user name: nginx refuses it to every client."""
    if inventory_vars["spiffworkflow_openid_provider"] != "builtin":
        pytest.skip("an external OpenID provider issues the tokens")
    domain = inventory_vars["spiffworkflow_domain"]
    headers = fetch(host, inventory_vars, domain, "https://{domain}/api/openid/token", method="POST")
    assert headers.startswith("HTTP/2 403"), headers.splitlines()[0]


def test_tls_protocols_and_ciphers(inventory_vars: dict[str, Any]) -> None:
    assert_modern_tls_only(inventory_vars, inventory_vars["spiffworkflow_domain"])


def test_security_headers_and_redirect(host: Any, inventory_vars: dict[str, Any]) -> None:
    domain = inventory_vars["spiffworkflow_domain"]
    headers = fetch(host, inventory_vars, domain, "https://{domain}/").lower()
    hsts = re.search(r"strict-transport-security: max-age=(\d+)", headers)
    assert hsts and int(hsts.group(1)) >= 15552000
    assert "x-content-type-options: nosniff" in headers and "referrer-policy: no-referrer" in headers
    assert not re.search(r"(?m)^server: nginx/", headers), "version banner"
    plain = fetch(host, inventory_vars, domain, "http://{domain}/")
    assert plain.startswith("HTTP/1.1 301") and re.search(r"(?im)^location: https://", plain)


def test_models_deployed_from_the_repo(host: Any, inventory_vars: dict[str, Any]) -> None:
    with host.sudo():
        for name in ("club-application.bpmn", "process_model.json", "intake-schema.json", "approval-schema.json"):
            assert host.file(f"{MODEL}/{name}").is_file, name
        table = host.file(f"{MODEL}/town-eligibility.dmn").content_string
        model = json.loads(host.file(f"{MODEL}/process_model.json").content_string)
    assert model["primary_file_name"] == "club-application.bpmn"
    # the decision table lists exactly the stack's towns
    slugs = re.findall(r'<text>"([a-z0-9-]+)"</text>', table)
    assert slugs == [town["slug"] for town in inventory_vars["spiffworkflow_towns"]]


def test_settings_and_secrets_are_not_world_readable(host: Any) -> None:
    with host.sudo():
        for path in ("/etc/spiffworkflow/backend.env", "/etc/spiffworkflow/permissions.yml"):
            item = host.file(path)
            assert item.user == "root" and item.group == "spiffworkflow" and not item.mode & 0o007, path
        assert host.file("/var/lib/spiffworkflow/openid").mode == 0o700


def test_code_is_not_writable_by_the_engine(host: Any) -> None:
    for path in ("/opt/spiffworkflow/current/backend/src", "/opt/spiffworkflow/current/venv/bin/gunicorn"):
        item = host.file(path)
        assert item.user == "root" and not item.mode & 0o022, path
