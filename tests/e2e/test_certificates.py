"""Certificates on the lab (marked `lab`): the service hosts got theirs from the lab's ACME server in their first
converge (the host tests check what they serve); here a forced renewal, as certbot's timer does it before expiry,
reaches nginx and coturn without a converge, fails no unit, and the next converge has nothing to change; and a
service name that points elsewhere stops the converge with the ACME server's reason, the old certificate kept."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography import x509

from egov6.cli.lab import converge_stack
from egov6.errors import Egov6Error
from egov6.lab.backend import LabBackend
from egov6.orchestrate import Stack
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


def test_a_name_pointing_elsewhere_stops_the_converge_with_the_acme_servers_reason() -> None:
    topology = Stack.load(STACK).topology
    lab = LabBackend(topology)
    cloud = Cloud.of_lab(STACK)
    before = _served(cloud, 443)
    # another ACME server in certbot's renewal settings: the acme role orders anew on the next converge
    moved = cloud.root("sed -i 's|^server = .*|server = https://acme.invalid/dir|' /etc/letsencrypt/renewal/egov6.conf")
    assert moved.returncode == 0, moved.stderr
    try:
        lab.point_names({cloud.domain: topology.by_role("flow")[0].private_ip})  # DNS still at an old server
        with pytest.raises(Egov6Error) as stopped:
            converge_stack(STACK, limit=cloud.host, tags="acme")
        reason = str(stopped.value)
        assert f"gave no certificate for {cloud.domain}" in reason and "Detail:" in reason, reason
        assert _served(cloud, 443) == before, "the certificate in use was replaced by a failed order"
    finally:
        lab.point_names(lab.zone())
    again = converge_stack(STACK, limit=cloud.host, tags="acme")
    assert again.hosts[cloud.host].changed > 0
    assert _served(cloud, 443) != before
