"""The stack's private network: hosts talk to their databases and backups only over it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud


@dataclass
class PrivateNetworkArgs:
    ip_range: str
    subnet: str
    zone: str
    labels: dict[str, str]
    protect: bool


class PrivateNetwork(pulumi.ComponentResource):
    network: hcloud.Network
    subnet: hcloud.NetworkSubnet

    def __init__(self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:network:PrivateNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.network = hcloud.Network(
            f"{name}-net",
            name=name,
            ip_range=args.ip_range,
            labels=args.labels,
            delete_protection=args.protect,
            opts=child,
        )
        self.subnet = hcloud.NetworkSubnet(
            f"{name}-subnet",
            network_id=self.network.id.apply(int),
            type="cloud",
            network_zone=args.zone,
            ip_range=args.subnet,
            opts=child,
        )
        self.register_outputs({"network_id": self.network.id})
