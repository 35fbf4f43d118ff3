"""Certificates on the lab (marked `lab`): the service hosts got theirs from the lab's ACME server in their first
converge (the host tests check what they serve); here a forced renewal, as certbot's timer does it before expiry,
reaches nginx and coturn without a converge, fails no unit, and the next converge has nothing to change."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography import x509

from egov6.cli.lab import converge_stack
from tests.e2e.cloud_client import Cloud
from tests.e2e.lab_service import first_host
from tests.hosts.test_certificates import served_certificate

pytestmark = pytest.mark.lab
STACK = "lab"


def _served(cloud: Cloud, port: int) -> x509.Certificate:
    client = {"ansible_host": cloud.address, "egov6_trust_bundle": str(cloud.ca)}
    return served_certificate(client, cloud.domain, port)


def test_a_renewal_reaches_nginx_and_coturn_and_the_next_converge_changes_nothing() -> None:
    cloud = Cloud.of_lab(STACK)
    turn_port = int(first_host(STACK, "cloud")[2]["coturn_tls_port"])
    before = _served(cloud, 443)
    assert _served(cloud, turn_port) == before

    renewal = cloud.root("certbot renew --force-renewal --cert-name egov6 --no-random-sleep-on-renew")
    assert renewal.returncode == 0, renewal.stdout + renewal.stderr

    deadline = time.monotonic() + 60  # coturn restarts: its TLS port answers again within seconds
    web: Any = None
    turn: Any = None
    while time.monotonic() < deadline:
        web = _served(cloud, 443)
        try:
            turn = _served(cloud, turn_port)
        except OSError:
            turn = None
        if web != before and turn == web:
            break
        time.sleep(1)
    assert web != before, "nginx still serves the certificate from before the renewal"
    assert web.serial_number != before.serial_number
    assert turn == web, "coturn does not serve the renewed certificate"
    failed = cloud.root("systemctl --failed --plain --no-legend").stdout.strip()
    assert failed == "", failed

    again = converge_stack(STACK, limit=cloud.host, tags="tls,acme")
    assert again.hosts[cloud.host].changed == 0, again.changed_tasks
