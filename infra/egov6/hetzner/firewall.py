"""One Hetzner firewall per role, deny-by-default: only the topology's public rules are declared."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud

from egov6.topology import FirewallRule


@dataclass
class RoleFirewallArgs:
    role: str
    rules: tuple[FirewallRule, ...]
    labels: dict[str, str]


def to_hcloud_rule(rule: FirewallRule) -> hcloud.FirewallRuleArgs:
    peers = list(rule.peers)
    return hcloud.FirewallRuleArgs(
        direction=rule.direction,
        protocol=rule.protocol,
        port=rule.port,
        source_ips=peers if rule.direction == "in" else None,
        destination_ips=peers if rule.direction == "out" else None,
        description=rule.description,
    )


class RoleFirewall(pulumi.ComponentResource):
    firewall: hcloud.Firewall

    def __init__(self, name: str, args: RoleFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:firewall:RoleFirewall", name, None, opts)
        # Private-scope rules are enforced by nftables on the host; Hetzner firewalls see public traffic only.
        public = [to_hcloud_rule(rule) for rule in args.rules if rule.scope == "public"]
        self.firewall = hcloud.Firewall(
            f"{name}-fw",
            name=name,
            rules=public,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"firewall_id": self.firewall.id})
