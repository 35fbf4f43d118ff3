"""Servers: a spread placement group, and per host primary IPs, the server, its volumes and reverse DNS."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud
import yaml

from egov6.config.schema import Admin
from egov6.topology import Host

SPREAD_GROUP_SIZE = 10  # Hetzner's limit of servers per spread placement group


def first_v6(network: str) -> str:
    """Hetzner assigns a /64 per server; the server answers on its first address."""
    address = network.split("/", maxsplit=1)[0]
    return f"{address}1" if address.endswith("::") else address


def cloud_init(admins: list[Admin]) -> str:
    """cloud-init that only creates the personal admin accounts with their keys; Ansible does the rest."""
    users = [
        {
            "name": admin.name,
            "groups": ["sudo"],
            "shell": "/bin/bash",
            "lock_passwd": True,
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "ssh_authorized_keys": [admin.ssh_key],
        }
        for admin in admins
    ]
    document = {"users": users, "ssh_pwauth": False, "disable_root": True}
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)


@dataclass
class HostServerArgs:
    host: Host
    network_id: pulumi.Input[int]
    firewall_id: pulumi.Input[int]
    placement_group_id: pulumi.Input[int]
    ssh_key_ids: list[pulumi.Input[str]]
    user_data: str
    domain: str
    encryption: str
    protect: bool


class HostServer(pulumi.ComponentResource):
    server: hcloud.Server
    ipv4: hcloud.PrimaryIp
    ipv6: hcloud.PrimaryIp

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
        self.server = hcloud.Server(
            f"{name}-server",
            name=host.name,
            server_type=host.server_type,
            image=host.image,
            location=host.location,
            placement_group_id=args.placement_group_id,
            firewall_ids=[args.firewall_id],
            ssh_keys=args.ssh_key_ids,
            user_data=args.user_data,
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
            opts=child,
        )
        server_id = self.server.id.apply(int)
        for volume in host.volumes:
            declared = hcloud.Volume(
                f"{name}-{volume.purpose}",
                name=volume.name,
                size=volume.size_gb,
                location=host.location,
                format="ext4",
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
    user_data: str
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
                    user_data=args.user_data,
                    domain=args.domain,
                    encryption=args.encryption,
                    protect=args.protect,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for position, host in enumerate(args.hosts)
        }
        self.register_outputs({"hosts": list(self.servers)})
