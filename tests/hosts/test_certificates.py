"""Certificates of the service hosts (roles tls, acme): from the ACME server the stack outputs name (the lab: its
Pebble; production: Let's Encrypt), served by nginx and coturn, renewed by certbot's timer. Expected values come
from the generated inventory."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import yaml
from cryptography import x509

from egov6.config.loader import repo_root

testinfra_hosts = ["cloud", "flow"]

LIVE = "/etc/letsencrypt/live/egov6"
# where nginx and coturn read the certificate and key: the tls role's defaults (site.yml hands them to acme)
TLS = yaml.safe_load((repo_root() / "playbooks/roles/tls/defaults/main.yml").read_text(encoding="utf-8"))


def served_certificate(inventory_vars: dict[str, Any], domain: str, port: int) -> x509.Certificate:
    """The certificate the host presents to a client outside it under ``domain`` on ``port``, checked against the
    roots the stack outputs name (or the system's)."""
    context = ssl.create_default_context(cafile=inventory_vars["egov6_trust_bundle"] or None)
    with (
        socket.create_connection((inventory_vars["ansible_host"], port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=domain) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _names(certificate: x509.Certificate) -> list[str]:
    return sorted(
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )


def test_the_served_certificate_is_the_acme_servers_for_the_hosts_names(
    host: Any, inventory_vars: dict[str, Any]
) -> None:
    domain = inventory_vars["tls_domains"][0]
    served = served_certificate(inventory_vars, domain, 443)  # verified: a stand-in would fail here
    assert served.issuer != served.subject, "nginx still serves the self-signed stand-in"
    assert _names(served) == sorted(inventory_vars["tls_domains"])
    with host.sudo():
        live = x509.load_pem_x509_certificate(host.file(f"{LIVE}/cert.pem").content_string.encode())
        renewal = host.file("/etc/letsencrypt/renewal/egov6.conf").content_string
    assert served == live, "nginx serves another certificate than the one certbot holds"
    assert f"server = {inventory_vars['acme_directory']}" in renewal.splitlines()
    assert "authenticator = webroot" in renewal.splitlines()


def test_certbot_renews_on_its_timer_and_hands_the_result_to_the_services(host: Any) -> None:
    timer = host.service("certbot.timer")
    assert timer.is_enabled and timer.is_running
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/egov6")
    assert (hook.user, hook.group, hook.mode) == ("root", "root", 0o755)
    assert TLS["tls_certificate_path"] in hook.content_string and TLS["tls_key_path"] in hook.content_string
    key = host.file(TLS["tls_key_path"])
    assert (key.user, key.group, key.mode) == ("root", "ssl-cert", 0o640)


def test_the_host_trusts_exactly_the_roots_the_outputs_name(host: Any, inventory_vars: dict[str, Any]) -> None:
    found = host.run("ls /usr/local/share/ca-certificates/").stdout.split()
    ours = sorted(name for name in found if name.startswith("egov6-"))
    assert ours == sorted(f"egov6-root-{i}.crt" for i in range(len(inventory_vars["tls_trusted_roots"])))
    for index, root in enumerate(inventory_vars["tls_trusted_roots"]):
        content = host.file(f"/usr/local/share/ca-certificates/egov6-root-{index}.crt").content_string
        assert content.strip() == root.strip()
