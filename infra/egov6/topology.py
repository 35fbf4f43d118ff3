"""The provider-neutral topology: hosts, networks, firewall rules and volumes as plain data.

Derived from the stack config only. The Hetzner program, the lab backend, the policies and the inventory all
read it; none of them re-declares a host, a port or an address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from egov6.config.schema import Role, StackConfig

Protocol = Literal["tcp", "udp", "icmp"]
Scope = Literal["public", "private"]
ANY_V4 = "0.0.0.0/0"
ANY_V6 = "::/0"
ANYWHERE = (ANY_V4, ANY_V6)

# Hosts start at the 10th address: the first belongs to the gateway (Hetzner) or the bridge (lab).
FIRST_HOST_OFFSET = 10
# Ports that must never be reachable from outside (NET-03): PostgreSQL, Redis, the engine's backend.
INTERNAL_PORTS: dict[int, str] = {5432: "PostgreSQL", 6379: "Redis", 7000: "SpiffArena backend"}


@dataclass(frozen=True)
class FirewallRule:
    direction: Literal["in", "out"]
    protocol: Protocol
    port: str | None  # "443", "49152-65535"; None for icmp
    peers: tuple[str, ...]  # sources (in) or destinations (out)
    description: str
    scope: Scope = "public"  # private rules exist on the host (nftables) only: Hetzner filters public traffic

    def ports(self) -> range:
        if self.port is None:
            return range(0)
        low, _, high = self.port.partition("-")
        return range(int(low), int(high or low) + 1)


@dataclass(frozen=True)
class Volume:
    name: str
    purpose: Literal["data", "db"]
    size_gb: int
    mount: str
    classification: Literal["personal", "internal"]


@dataclass(frozen=True)
class Host:
    name: str
    role: Role
    index: int
    location: str
    server_type: str
    image: str
    private_ip: str
    volumes: tuple[Volume, ...]
    labels: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class Topology:
    stack: str
    config: StackConfig
    hosts: tuple[Host, ...]
    rules: dict[Role, tuple[FirewallRule, ...]]
    labels: dict[str, str]

    def by_role(self, role: Role) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role == role)

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(dict.fromkeys(h.role for h in self.hosts))

    @property
    def gateway(self) -> str:
        return str(next(self.config.network.subnet.hosts()))

    def labels_for(self, role: str, classification: str) -> dict[str, str]:
        return {**self.labels, "role": role, "data-classification": classification}


VOLUME_MOUNTS = {"data": "/srv/data", "db": "/srv/db"}


def dns_records(topology: Topology) -> dict[str, str]:
    """The stack's zone (relative name → the host it points at): one name per host, and each service's name at the
    first host of its role. The Pulumi program declares them at Hetzner DNS; the lab's ACME server resolves them."""
    records = {host.name: host.name for host in topology.hosts}
    for service in ("cloud", "flow"):
        hosts = topology.by_role(service)
        if hosts:
            records[getattr(topology.config.dns, service)] = hosts[0].name
    return records


def volume_device(volume_id: str) -> str:
    """Where a Hetzner Cloud volume appears on its server (stable across reboots and re-attachments); lab hosts
    get their stand-in volumes at the same path."""
    return f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


ROLE_CLASSIFICATION: dict[Role, Literal["personal", "internal"]] = {
    "cloud": "personal",  # club files, calendars, contact data
    "flow": "personal",  # workflow case data of applications
    "backup": "personal",  # copies of both
}


def _rules(cfg: StackConfig, role: Role) -> tuple[FirewallRule, ...]:
    admin = tuple(str(net) for net in cfg.admin_ranges)
    subnet = (str(cfg.network.subnet),)
    rules: list[FirewallRule] = [
        FirewallRule("in", "tcp", "22", admin, "SSH from the declared admin ranges"),
        FirewallRule("in", "icmp", None, ANYWHERE, "ICMP (path MTU discovery, ping)"),
    ]
    if role in ("cloud", "flow"):
        rules += [
            FirewallRule("in", "tcp", "80", ANYWHERE, "HTTP (redirect to HTTPS, ACME)"),
            FirewallRule("in", "tcp", "443", ANYWHERE, "HTTPS"),
        ]
    if role == "cloud" and cfg.turn.enabled:
        relay = f"{cfg.turn.relay_min}-{cfg.turn.relay_max}"
        rules += [
            FirewallRule("in", "tcp", str(cfg.turn.port), ANYWHERE, "TURN/STUN"),
            FirewallRule("in", "udp", str(cfg.turn.port), ANYWHERE, "TURN/STUN"),
            FirewallRule("in", "tcp", str(cfg.turn.tls_port), ANYWHERE, "TURN over TLS"),
            FirewallRule("in", "udp", relay, ANYWHERE, "TURN relay ports"),
        ]
    if role == "backup":
        rules.append(FirewallRule("in", "tcp", "22", subnet, "borg over SSH from the stack's hosts", "private"))
    # Egress (NET-02): once one outbound rule exists, Hetzner denies all other outbound traffic.
    rules += [
        FirewallRule("out", "udp", "53", ANYWHERE, "DNS"),
        FirewallRule("out", "tcp", "53", ANYWHERE, "DNS"),
        FirewallRule("out", "udp", "123", ANYWHERE, "NTP"),
        FirewallRule("out", "tcp", "80", ANYWHERE, "Debian mirrors, ACME"),
        FirewallRule("out", "tcp", "443", ANYWHERE, "Debian security, ACME, upstream releases"),
        FirewallRule("out", "icmp", None, ANYWHERE, "ICMP"),
    ]
    if cfg.backup.target == "storage_box" and role != "backup":
        rules.append(FirewallRule("out", "tcp", "23", ANYWHERE, "borg to the Storage Box (SSH on port 23)"))
    if cfg.backup.target == "host" and role != "backup":
        rules.append(FirewallRule("out", "tcp", "22", subnet, "borg to the stack's backup host", "private"))
    if role == "cloud" and cfg.smtp:
        rules.append(FirewallRule("out", "tcp", str(cfg.smtp.port), ANYWHERE, "mail relay (invitations)"))
    if cfg.lab:
        # Lab hosts have no way out but the controller's apt cache on the bridge (the first address), and the
        # cloud host's mail to the lab's SMTP sink there.
        bridge = f"{next(cfg.network.subnet.hosts())}/32"
        rules.append(FirewallRule("out", "tcp", str(cfg.lab.apt_cache_port), (bridge,), "apt cache (lab)", "private"))
        if role == "cloud" and not cfg.smtp:
            sink = str(cfg.lab.mail_sink_port)
            rules.append(FirewallRule("out", "tcp", sink, (bridge,), "the lab's SMTP sink", "private"))
    return tuple(rules)


def _volumes(cfg: StackConfig, role: Role, host: str) -> tuple[Volume, ...]:
    group = cfg.hosts[role]
    sizes: dict[Literal["data", "db"], int] = {"data": group.data_volume_gb, "db": group.db_volume_gb}
    return tuple(
        Volume(f"{host}-{purpose}", purpose, size, VOLUME_MOUNTS[purpose], ROLE_CLASSIFICATION[role])
        for purpose, size in sizes.items()
        if size > 0
    )


def build_topology(cfg: StackConfig, stack: str) -> Topology:
    # Labels carry the declared facts that policies and auditors check on each resource (LOC-01, ENC-01).
    labels = {
        "stack": stack,
        "environment": cfg.environment,
        "owner": cfg.owner,
        "managed-by": "egov6",
        "residency": "eu" if cfg.allow_locations_outside_germany else "de",
    }
    addresses = cfg.network.subnet.hosts()
    for _ in range(FIRST_HOST_OFFSET - 1):
        next(addresses)
    hosts: list[Host] = []
    for role in ("cloud", "flow", "backup"):
        group = cfg.hosts.get(role)
        if group is None:
            continue
        for index in range(1, group.count + 1):
            name = f"{cfg.name}-{role}{index}"
            host_labels = {**labels, "role": role, "data-classification": ROLE_CLASSIFICATION[role]}
            hosts.append(
                Host(
                    name=name,
                    role=role,
                    index=index,
                    location=group.location,
                    server_type=group.server_type,
                    image=group.image,
                    private_ip=str(next(addresses)),
                    volumes=_volumes(cfg, role, name),
                    labels=host_labels,
                )
            )
    rules = {role: _rules(cfg, role) for role in dict.fromkeys(h.role for h in hosts)}
    return Topology(stack=stack, config=cfg, hosts=tuple(hosts), rules=rules, labels=labels)


def is_anywhere(peer: str) -> bool:
    return ipaddress.ip_network(peer, strict=False).prefixlen == 0
