"""Probes of a host's HTTPS service from the controller, as a client outside the host sees it."""

from __future__ import annotations

import socket
import ssl
import warnings
from typing import Any


def controller_tls(inventory_vars: dict[str, Any], domain: str, version: ssl.TLSVersion) -> str | None:
    """The cipher the host offers the controller with exactly this TLS version, or None if refused."""
    warnings.filterwarnings("ignore", "ssl.TLSVersion.TLSv1_1 is deprecated", DeprecationWarning)
    context = ssl.create_default_context(cafile=inventory_vars["egov6_trust_bundle"] or None)
    context.minimum_version = version
    context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    try:
        with (
            socket.create_connection((inventory_vars["ansible_host"], 443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=domain) as tls,
        ):
            cipher = tls.cipher()
            return cipher[0] if cipher else None
    except (ssl.SSLError, ConnectionResetError):
        return None


def assert_modern_tls_only(inventory_vars: dict[str, Any], domain: str) -> None:
    """BSI TR-02102-2: no TLS 1.1; TLS 1.2 only with forward-secret AES-GCM; TLS 1.3 with AES suites."""
    assert controller_tls(inventory_vars, domain, ssl.TLSVersion.TLSv1_1) is None
    tls12 = controller_tls(inventory_vars, domain, ssl.TLSVersion.TLSv1_2)
    assert tls12 and tls12.startswith(("ECDHE-", "DHE-")) and "GCM" in tls12, tls12
    tls13 = controller_tls(inventory_vars, domain, ssl.TLSVersion.TLSv1_3)
    assert tls13 in ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256"), tls13


def fetch(host: Any, inventory_vars: dict[str, Any], domain: str, url: str, method: str = "GET") -> str:
    """Response headers of a request from the controller to the host under its public name."""
    address = inventory_vars["ansible_host"]
    bundle = inventory_vars["egov6_trust_bundle"]
    roots = f"--cacert {bundle}" if bundle else ""
    result = host.backend.run_local(
        f"curl -sS -X {method} -D - -o /dev/null {roots} "
        f"--resolve {domain}:443:{address} --resolve {domain}:80:{address} {url.format(domain=domain)}"
    )
    assert result.rc == 0, result.stderr
    return str(result.stdout)
