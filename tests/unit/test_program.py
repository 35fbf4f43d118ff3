"""The Pulumi program under ``pulumi.runtime.set_mocks``: what the production stack declares."""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

import yaml

from egov6.config import load_stack
from egov6.config.scaled import scaled
from egov6.config.schema import GERMAN_LOCATIONS
from egov6.declared import Declaration
from egov6.hetzner.evaluate import evaluate
from egov6.lab.backend import LabBackend
from egov6.policies.rules import REQUIRED_LABELS, is_secret, revealed
from egov6.topology import ANYWHERE, INTERNAL_PORTS, build_topology, dns_records

EXPECTED_PRODUCTION = {
    "Network": 1, "NetworkSubnet": 1, "Firewall": 2, "SshKey": 1, "PlacementGroup": 1,
    "PrimaryIp": 4, "Server": 2, "Rdns": 4, "Volume": 3, "VolumeAttachment": 3,
    "Zone": 1, "ZoneRrset": 8, "StorageBox": 1, "StorageBoxSubaccount": 2,
    # Storage Box passwords (3), the generated secrets of the roles (9: cloud 4, engine 5 with no built-in user)
    # a borg passphrase per service host (2) and a LUKS key per volume (3: cloud data and db, engine db)
    "RandomPassword": 3 + 9 + 2 + 3,
    # the automation key, the backup maintenance key and two host keys (Ed25519, RSA) per server
    "PrivateKey": 2 + 2 * 2,
    # components
    "PrivateNetwork": 1, "RoleFirewall": 2, "Compute": 1, "HostServer": 2, "DnsZone": 1, "BackupStorage": 1,
}  # fmt: skip


def test_production_declares_exactly_the_expected_resources(production: Declaration) -> None:
    assert Counter(r.kind for r in production.resources) == EXPECTED_PRODUCTION


def test_every_location_is_german(production: Declaration) -> None:
    located = [r for r in production.resources if "location" in r.props]
    assert located, "no located resources were declared"
    for res in located:
        assert res.props["location"] in GERMAN_LOCATIONS, f"{res.name} is in {res.props['location']}"


def test_backup_box_is_in_the_other_location(production: Declaration) -> None:
    (box,) = production.of_kind("StorageBox")
    servers = {s.props["location"] for s in production.of_kind("Server")}
    assert box.props["location"] not in servers, f"{box.name} shares a location with the servers"
    subaccounts = {s.props["homeDirectory"] for s in production.of_kind("StorageBoxSubaccount")}
    assert subaccounts == {"borg/egov6-prod-cloud1", "borg/egov6-prod-flow1"}


def _rules(fw: Any) -> set[tuple[str, str, str | None, tuple[str, ...]]]:
    return {
        (
            r["direction"],
            r["protocol"],
            r.get("port"),
            tuple(r.get("sourceIps") or r.get("destinationIps") or ()),
        )
        for r in fw.props["rules"]
    }


def test_firewall_rules_are_exactly_the_declared_ones(production: Declaration) -> None:
    fws = {fw.props["name"]: fw for fw in production.of_kind("Firewall")}
    admin = ("198.51.100.0/27", "2001:db8:600::/48")
    inbound_cloud = {r for r in _rules(fws["egov6-prod-cloud"]) if r[0] == "in"}
    assert inbound_cloud == {
        ("in", "tcp", "22", admin),
        ("in", "icmp", None, ANYWHERE),
        ("in", "tcp", "80", ANYWHERE),
        ("in", "tcp", "443", ANYWHERE),
        ("in", "tcp", "3478", ANYWHERE),
        ("in", "udp", "3478", ANYWHERE),
        ("in", "tcp", "5349", ANYWHERE),
        ("in", "udp", "49152-65535", ANYWHERE),
    }
    inbound_flow = {r for r in _rules(fws["egov6-prod-flow"]) if r[0] == "in"}
    assert inbound_flow == {
        ("in", "tcp", "22", admin),
        ("in", "icmp", None, ANYWHERE),
        ("in", "tcp", "80", ANYWHERE),
        ("in", "tcp", "443", ANYWHERE),
    }
    outbound = {r[2] for r in _rules(fws["egov6-prod-flow"]) if r[0] == "out"}
    assert outbound == {"53", "123", "80", "443", "23", None}


def test_no_world_on_ssh_or_database_ports(production: Declaration) -> None:
    for fw in production.of_kind("Firewall"):
        for rule in fw.props["rules"]:
            if rule["direction"] != "in" or rule["protocol"] not in ("tcp", "udp"):
                continue
            low, _, high = rule["port"].partition("-")
            ports = range(int(low), int(high or low) + 1)
            sources = [ipaddress.ip_network(s) for s in rule["sourceIps"]]
            if 22 in ports:
                assert all(s.prefixlen > 0 for s in sources), f"{fw.name}: SSH open to the world"
            for port in INTERNAL_PORTS:
                assert port not in ports, f"{fw.name}: internal port {port} declared"


def test_servers_get_firewall_placement_keys_and_protection(production: Declaration) -> None:
    for server in production.of_kind("Server"):
        assert server.props["firewallIds"], server.name
        assert server.props["placementGroupId"], server.name
        assert len(server.props["sshKeys"]) == 1, server.name  # the automation key: no root password mailed
        assert server.props["deleteProtection"] and server.props["rebuildProtection"], server.name
        assert server.props["publicNets"][0]["ipv4Enabled"] and server.props["publicNets"][0]["ipv6Enabled"]


def test_user_data_is_secret_and_bootstraps_only_the_automation_account(production: Declaration) -> None:
    """cloud-init gets the automation account and the host's own keys; admins come from the base role."""
    for server in production.of_kind("Server"):
        assert is_secret(server.props["userData"]), f"{server.name}: user-data with private host keys in plain text"
        document = yaml.safe_load(revealed(server.props["userData"]))
        assert [user["name"] for user in document["users"]] == ["egov6"]
        assert document["ssh_pwauth"] is False and document["ssh_deletekeys"] is True
        assert set(document["ssh_genkeytypes"]) == {"ed25519", "rsa"}  # only where missing: never ECDSA
        host = server.props["name"]
        assert f"mock key of {host}-hostkey-ed25519" in document["ssh_keys"]["ed25519_private"]
        assert f"mock key of {host}-hostkey-rsa" in document["ssh_keys"]["rsa_private"]
        assert "akeller" not in revealed(server.props["userData"])


def test_volumes_are_attached_and_protected(production: Declaration) -> None:
    volumes = production.of_kind("Volume")
    attachments = production.of_kind("VolumeAttachment")
    assert {a.name.removesuffix("-attach") for a in attachments} == {v.name for v in volumes}
    for volume in volumes:
        assert volume.props["deleteProtection"], volume.name
        assert volume.labels["encryption"] == "luks", volume.name
    sizes = {v.props["name"]: v.props["size"] for v in volumes}
    assert sizes == {"egov6-prod-cloud1-data": 2048, "egov6-prod-cloud1-db": 50, "egov6-prod-flow1-db": 20}


def test_labels_on_every_labelled_resource(production: Declaration) -> None:
    labelled = [r for r in production.resources if "labels" in r.props and r.kind != "ZoneRrset"]
    assert len(labelled) >= 15
    for res in labelled:
        for label in REQUIRED_LABELS:
            assert res.labels.get(label), f"{res.name} lacks label {label}"
        assert res.labels["stack"] == "production", res.name


def test_outputs_carry_every_host_with_addresses(production: Declaration) -> None:
    hosts = production.outputs["hosts"]
    assert [h["name"] for h in hosts] == ["egov6-prod-cloud1", "egov6-prod-flow1"]
    for host in hosts:
        assert set(host) == {"name", "role", "location", "private_ip", "ipv4", "ipv6", "host_keys", "volumes"}
        assert [key.split()[0] for key in host["host_keys"]] == ["ssh-ed25519", "ssh-rsa"]
        ipaddress.IPv4Address(host["ipv4"])
        ipaddress.IPv6Address(host["ipv6"])
        assert ipaddress.IPv4Address(host["private_ip"]) in ipaddress.IPv4Network("10.60.1.0/24")


def test_dns_records_point_at_the_servers(production: Declaration) -> None:
    (zone,) = production.of_kind("Zone")
    assert zone.props["name"] == "egov6-vereine.de"
    names = {(r.props["name"], r.props["type"]) for r in production.of_kind("ZoneRrset")}
    assert {("cloud", "A"), ("cloud", "AAAA"), ("flow", "A"), ("egov6-prod-cloud1", "AAAA")} <= names
    ptrs = {r.props["dnsPtr"] for r in production.of_kind("Rdns")}
    assert ptrs == {"egov6-prod-cloud1.egov6-vereine.de", "egov6-prod-flow1.egov6-vereine.de"}


def test_the_lab_resolves_the_zone_the_program_declares(
    production: Declaration, shipped: dict[str, dict[str, Any]]
) -> None:
    declared = {r.props["name"] for r in production.of_kind("ZoneRrset")}
    assert declared == set(dns_records(build_topology(load_stack("production"), "production")))
    lab = build_topology(load_stack("lab"), "lab")
    zone = LabBackend(lab).zone()  # what the lab's ACME server resolves, for the same names
    assert set(zone) == {f"{name}.{lab.config.domain}" for name in dns_records(lab)}
    assert zone[lab.config.fqdn("cloud")] == lab.by_role("cloud")[0].private_ip
    assert zone[lab.config.fqdn("flow")] == lab.by_role("flow")[0].private_ip
    assert all(zone[f"{h.name}.{lab.config.domain}"] == h.private_ip for h in lab.hosts)


def test_lab_stack_has_a_backup_host_and_no_storage_box(shipped: dict[str, dict[str, Any]]) -> None:
    lab = evaluate(dict(shipped["lab"]), "lab")
    assert not lab.of_kind("StorageBox")
    assert [h["role"] for h in lab.outputs["hosts"]] == ["cloud", "flow", "backup"]
    assert not any(s.props.get("deleteProtection") for s in lab.of_kind("Server"))


def test_scaled_stack_of_120_hosts_evaluates(production_data: dict[str, Any]) -> None:
    big = evaluate(scaled(production_data, 120), "scaled")
    servers = big.of_kind("Server")
    assert len(servers) == 120
    assert len({s.props["networks"][0]["ip"] for s in servers}) == 120
    # Hetzner allows 10 servers per spread group
    assert len(big.of_kind("PlacementGroup")) == 12
    assert len(big.outputs["hosts"]) == 120
