"""The provider-neutral topology derived from the stack config."""

from __future__ import annotations

import ipaddress

from egov6.config import load_stack
from egov6.topology import build_topology


def test_lab_topology_hosts_roles_and_addresses() -> None:
    topo = build_topology(load_stack("lab"), "lab")
    assert [(h.name, h.role, h.private_ip) for h in topo.hosts] == [
        ("egov6-lab-cloud1", "cloud", "10.66.1.10"),
        ("egov6-lab-flow1", "flow", "10.66.1.11"),
        ("egov6-lab-backup1", "backup", "10.66.1.12"),
    ]
    assert topo.gateway == "10.66.1.1"


def test_rules_per_role() -> None:
    topo = build_topology(load_stack("lab"), "lab")
    inbound = {role: {(r.protocol, r.port) for r in rules if r.direction == "in"} for role, rules in topo.rules.items()}
    assert ("tcp", "443") in inbound["cloud"] and ("udp", "49152-65535") in inbound["cloud"]
    assert ("tcp", "443") in inbound["flow"] and ("udp", "3478") not in inbound["flow"]
    assert inbound["backup"] == {("tcp", "22"), ("icmp", None)}
    private = [r for r in topo.rules["backup"] if r.scope == "private" and r.direction == "in"]
    assert [r.peers for r in private] == [("10.66.1.0/24",)]


def test_egress_per_role_on_the_private_network() -> None:
    topo = build_topology(load_stack("lab"), "lab")
    out = {role: {(r.port, r.peers) for r in rules if r.direction == "out" and r.scope == "private"}
           for role, rules in topo.rules.items()}  # fmt: skip
    apt_cache, mail_sink = ("3152", ("10.66.1.1/32",)), ("2525", ("10.66.1.1/32",))
    assert out["flow"] == {("22", ("10.66.1.0/24",)), apt_cache}  # borg to the backup host
    assert out["cloud"] == out["flow"] | {mail_sink}  # invitations to the lab's SMTP sink
    assert out["backup"] == {apt_cache}
    production = build_topology(load_stack("production"), "production")
    assert not [
        r for rules in production.rules.values() for r in rules if r.direction == "out" and r.scope == "private"
    ]


def test_volumes_follow_the_declared_sizes() -> None:
    topo = build_topology(load_stack("production"), "production")
    cloud = topo.by_role("cloud")[0]
    assert {(v.purpose, v.size_gb, v.mount) for v in cloud.volumes} == {
        ("data", 2048, "/srv/data"),
        ("db", 50, "/srv/db"),
    }
    assert all(v.classification == "personal" for v in cloud.volumes)


def test_every_private_address_is_unique_and_inside_the_subnet() -> None:
    cfg = load_stack("staging")
    topo = build_topology(cfg, "staging")
    addresses = [ipaddress.IPv4Address(h.private_ip) for h in topo.hosts]
    assert len(set(addresses)) == len(addresses)
    assert all(a in cfg.network.subnet for a in addresses)
