"""The lab's ACME server: Pebble (Debian's ``pebble``, the test server Let's Encrypt publishes) on the bridge, with
``pebble-challtestsrv`` as its DNS server holding the stack's zone: the names the Pulumi program declares at Hetzner
DNS, pointing at the lab hosts. Certbot on the lab hosts gets its certificates from Pebble over HTTP-01 through
nginx, exactly as production gets them from Let's Encrypt; only the directory and the roots to trust differ.

Pebble's own HTTPS listener carries a certificate from the lab CA: that is where the lab CA stays (with the SMTP
sink), because an ACME server cannot certify itself. Pebble makes a new root each time it starts; the lab's outputs
keep every root of the lab's life (``acme.roots``), so certificates issued before a restart stay trusted.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

from egov6.errors import Egov6Error
from egov6.lab import daemons

# The hosts' firewall lets them out to port 443 (production: Let's Encrypt), so Pebble answers there.
ACME_PORT = 443
MANAGEMENT_PORT = 15000  # Pebble's roots (controller only: the hosts may not reach it)
DNS_PORT = 8053
DNS_MANAGEMENT_PORT = 8055
PEBBLE_PIDFILE = "pebble.pid"
DNS_PIDFILE = "pebble-dns.pid"


def directory(gateway: str) -> str:
    return f"https://{gateway}:{ACME_PORT}/dir"


def _context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def _get(url: str, ca: Path) -> bytes:
    with urllib.request.urlopen(url, timeout=5, context=_context(ca)) as answer:  # noqa: S310 https to the lab
        return bytes(answer.read())


def start(state: Path, gateway: str, cert: Path, key: Path, ca: Path) -> None:
    """Starts the DNS server and Pebble on the bridge (or finds them running)."""
    if not daemons.running(state / DNS_PIDFILE):
        # Only the names egov6 points (no default answer: an undeclared name does not resolve), DNS only.
        argv = ["pebble-challtestsrv", "-defaultIPv4", "", "-defaultIPv6", "", "-http01", "", "-https01", "",
                "-tlsalpn01", "", "-dns01", f"{gateway}:{DNS_PORT}",
                "-management", f"{gateway}:{DNS_MANAGEMENT_PORT}"]  # fmt: skip
        process = daemons.spawn(argv, state / "pebble-dns.log", state / DNS_PIDFILE)

        def dns_answers() -> bool:
            _manage(gateway, "clear-a", {"host": "egov6.invalid."})
            return True

        daemons.wait_until_answering(process, dns_answers, "the lab's ACME DNS server", state / "pebble-dns.log")
    if not daemons.running(state / PEBBLE_PIDFILE):
        config = {"pebble": {
            "listenAddress": f"{gateway}:{ACME_PORT}", "managementListenAddress": f"{gateway}:{MANAGEMENT_PORT}",
            "certificate": str(cert), "privateKey": str(key), "httpPort": 80, "tlsPort": 443,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}  # fmt: skip
        (state / "pebble.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        # No random sleeps before a validation, no deliberately refused nonces: the lab tests the path, not retries.
        # No reuse of an earlier validation: every order proves again that its names reach the host asking.
        env = {
            "PATH": "/usr/bin:/bin",
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
        }
        argv = ["pebble", "-config", str(state / "pebble.json"), "-dnsserver", f"{gateway}:{DNS_PORT}"]
        process = daemons.spawn(argv, state / "pebble.log", state / PEBBLE_PIDFILE, env)
        daemons.wait_until_answering(
            process, lambda: b"newOrder" in _get(directory(gateway), ca), "the lab's ACME server", state / "pebble.log"
        )


def root(gateway: str, ca: Path) -> str:
    """The root Pebble issues under now (PEM)."""
    try:
        return _get(f"https://{gateway}:{MANAGEMENT_PORT}/roots/0", ca).decode().strip() + "\n"
    except OSError as exc:
        raise Egov6Error(f"the lab's ACME server gave no root ({exc}); see its log in the lab's state folder") from None


def _manage(gateway: str, action: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"http://{gateway}:{DNS_MANAGEMENT_PORT}/{action}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 http on the lab bridge
        pass


def point(gateway: str, records: dict[str, str]) -> None:
    """Each name (FQDN) resolves to its address, and only to it, for Pebble from now on."""
    for name, address in records.items():
        try:
            _manage(gateway, "clear-a", {"host": f"{name}."})  # the DNS server adds to what a name had
            _manage(gateway, "add-a", {"host": f"{name}.", "addresses": [address]})
        except OSError as exc:
            raise Egov6Error(f"the lab's ACME DNS server did not take {name} ({exc})") from None


def stop(state: Path) -> None:
    daemons.stop(state / PEBBLE_PIDFILE)
    daemons.stop(state / DNS_PIDFILE)
