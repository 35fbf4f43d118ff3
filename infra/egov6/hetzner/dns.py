"""The stack's DNS zone at Hetzner: service names (cloud, flow) and one name per host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud


@dataclass
class DnsRecord:
    name: str  # relative to the zone
    ipv4: pulumi.Input[str]
    ipv6: pulumi.Input[str]


@dataclass
class DnsZoneArgs:
    domain: str
    ttl: int
    records: list[DnsRecord]
    labels: dict[str, str]
    protect: bool


class DnsZone(pulumi.ComponentResource):
    zone: hcloud.Zone

    def __init__(self, name: str, args: DnsZoneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:dns:DnsZone", name, None, opts)
        self.zone = hcloud.Zone(
            f"{name}-zone",
            name=args.domain,
            mode="primary",
            ttl=args.ttl,
            delete_protection=args.protect,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        for record in args.records:
            for kind, value in (("A", record.ipv4), ("AAAA", record.ipv6)):
                hcloud.ZoneRrset(
                    f"{name}-{record.name}-{kind.lower()}",
                    zone=self.zone.name,
                    name=record.name,
                    type=kind,
                    ttl=args.ttl,
                    records=[hcloud.ZoneRrsetRecordArgs(value=value)],
                    labels=args.labels,
                    opts=pulumi.ResourceOptions(parent=self),
                )
        self.register_outputs({"zone": self.zone.name})
