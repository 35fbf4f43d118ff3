"""Servers: a spread placement group, and per host primary IPs, the server, its volumes and reverse DNS."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud
import pulumi_tls as tls

from egov6.bootstrap import HOST_KEY_TYPES, RSA_BITS, KeyPair, user_data
from egov6.topology import Host

SPREAD_GROUP_SIZE = 10  # Hetzner's limit of servers per spread placement group


def first_v6(network: str) -> str:
    """Hetzner assigns a /64 per server; the server answers on its first address."""
    address = network.split("/", maxsplit=1)[0]
    return f"{address}1" if address.endswith("::") else address


# What cloud-init needs only at the first boot: a change must never replace a server (and with it its data). Admin
# accounts are not among them at all: the base role manages them on every converge.
BOOTSTRAP_ONLY = ["user_data", "ssh_keys"]


def _host_key(name: str, kind: str, parent: pulumi.Resource) -> tls.PrivateKey:
    """An SSH host key generated into the stack's encrypted state, so the controller can pin it before connecting."""
    opts = pulumi.ResourceOptions(parent=parent)
    if kind == "rsa":
        return tls.PrivateKey(f"{name}-hostkey-{kind}", algorithm="RSA", rsa_bits=RSA_BITS, opts=opts)
    return tls.PrivateKey(f"{name}-hostkey-{kind}", algorithm=kind.upper(), opts=opts)


def _user_data(automation_public_key: str, *halves: str) -> str:
    pairs = {kind: KeyPair(halves[2 * i], halves[2 * i + 1]) for i, kind in enumerate(HOST_KEY_TYPES)}
    return user_data(automation_public_key, pairs)


@dataclass
class HostServerArgs:
    host: Host
    network_id: pulumi.Input[int]
    firewall_id: pulumi.Input[int]
    placement_group_id: pulumi.Input[int]
    ssh_key_ids: list[pulumi.Input[str]]
    automation_public_key: pulumi.Input[str]
    domain: str
    encryption: str
    protect: bool


class HostServer(pulumi.ComponentResource):
    server: hcloud.Server
    ipv4: hcloud.PrimaryIp
    ipv6: hcloud.PrimaryIp
    host_keys: pulumi.Output[list[str]]  # public halves, "type base64"
    volumes: dict[str, hcloud.Volume]  # purpose → volume

    def __init__(self, name: str, args: HostServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:compute:HostServer", name, None, opts)
        host = args.host
        child = pulumi.ResourceOptions(parent=self, protect=args.protect)
        ips = {
            kind: hcloud.PrimaryIp(
                f"{name}-{kind}",
                name=f"{host.name}-{kind}",
                type=kind,
                location=host.location,
                assignee_type="server",
                auto_delete=False,
                delete_protection=args.protect,
                labels=host.labels,
                opts=child,
            )
            for kind in ("ipv4", "ipv6")
        }
        self.ipv4, self.ipv6 = ips["ipv4"], ips["ipv6"]
        keys = [_host_key(name, kind, self) for kind in HOST_KEY_TYPES]
        halves = [half for key in keys for half in (key.private_key_openssh, key.public_key_openssh)]
        self.host_keys = pulumi.Output.all(*(key.public_key_openssh for key in keys)).apply(
            lambda texts: [text.strip() for text in texts]
        )
        plain: pulumi.Output[str] = pulumi.Output.all(args.automation_public_key, *halves).apply(
            lambda values: _user_data(*values)
        )
        user_data: pulumi.Output[str] = pulumi.Output.secret(plain)  # it carries the host's private keys
        self.server = hcloud.Server(
            f"{name}-server",
            name=host.name,
            server_type=host.server_type,
            image=host.image,
            location=host.location,
            placement_group_id=args.placement_group_id,
            firewall_ids=[args.firewall_id],
            ssh_keys=args.ssh_key_ids,
            user_data=user_data,
            public_nets=[
                hcloud.ServerPublicNetArgs(
                    ipv4_enabled=True,
                    ipv4=self.ipv4.id.apply(int),
                    ipv6_enabled=True,
                    ipv6=self.ipv6.id.apply(int),
                )
            ],
            networks=[hcloud.ServerNetworkArgs(network_id=args.network_id, ip=host.private_ip)],
            delete_protection=args.protect,
            rebuild_protection=args.protect,
            labels=host.labels,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=BOOTSTRAP_ONLY)),
        )
        server_id = self.server.id.apply(int)
        self.volumes = {}
        for volume in host.volumes:
            declared = self.volumes[volume.purpose] = hcloud.Volume(
                f"{name}-{volume.purpose}",
                name=volume.name,
                size=volume.size_gb,
                location=host.location,
                # raw: the storage role formats it once (LUKS2 first where declared) with egov6's label
                delete_protection=args.protect,
                labels={
                    **host.labels,
                    "data-classification": volume.classification,
                    "purpose": volume.purpose,
                    "encryption": args.encryption,
                },
                opts=child,
            )
            hcloud.VolumeAttachment(
                f"{name}-{volume.purpose}-attach",
                server_id=server_id,
                volume_id=declared.id.apply(int),
                automount=False,  # Ansible mounts it (LUKS in production) at the declared path
                opts=pulumi.ResourceOptions(parent=self),
            )
        fqdn = f"{host.name}.{args.domain}"
        for kind, ip in ips.items():
            hcloud.Rdns(
                f"{name}-{kind}-rdns",
                primary_ip_id=ip.id.apply(int),
                ip_address=ip.ip_address if kind == "ipv4" else ip.ip_address.apply(first_v6),
                dns_ptr=fqdn,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"server_id": self.server.id})


@dataclass
class ComputeArgs:
    name: str
    hosts: tuple[Host, ...]
    network_id: pulumi.Input[int]
    firewall_ids: dict[str, pulumi.Input[int]]
    ssh_key_ids: list[pulumi.Input[str]]
    automation_public_key: pulumi.Input[str]
    domain: str
    encryption: str
    labels: dict[str, str]
    protect: bool


class Compute(pulumi.ComponentResource):
    servers: dict[str, HostServer]

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:compute:Compute", name, None, opts)
        # Spread: no two hosts on one physical machine (availability, GDPR Art. 32(1)(b)). Hetzner caps a
        # spread group at 10 servers, so larger stacks get one group per ten hosts.
        group_ids = [
            hcloud.PlacementGroup(
                f"{name}-spread-{number}",
                name=f"{args.name}-spread-{number}",
                type="spread",
                labels=args.labels,
                opts=pulumi.ResourceOptions(parent=self),
            ).id.apply(int)
            for number in range(1, (len(args.hosts) + SPREAD_GROUP_SIZE - 1) // SPREAD_GROUP_SIZE + 1)
        ]
        self.servers = {
            host.name: HostServer(
                host.name,
                HostServerArgs(
                    host=host,
                    network_id=args.network_id,
                    firewall_id=args.firewall_ids[host.role],
                    placement_group_id=group_ids[position // SPREAD_GROUP_SIZE],
                    ssh_key_ids=args.ssh_key_ids,
                    automation_public_key=args.automation_public_key,
                    domain=args.domain,
                    encryption=args.encryption,
                    protect=args.protect,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for position, host in enumerate(args.hosts)
        }
        self.register_outputs({"hosts": list(self.servers)})
