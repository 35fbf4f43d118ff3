"""The Pulumi program: stack config (pulumi.Config) → topology → Hetzner components → outputs.

``infra/__main__.py`` runs :func:`main` under the Pulumi engine; ``egov6 check`` and the tests run the
very same function under ``pulumi.runtime.set_mocks``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pulumi
import pulumi_hcloud as hcloud
import pulumi_random as random
import pulumi_tls as tls

from egov6.bootstrap import AUTOMATION_USER
from egov6.config.loader import NAMESPACE, load_stack_mapping
from egov6.config.schema import StackConfig
from egov6.hetzner.backup import BackupStorage, BackupStorageArgs
from egov6.hetzner.compute import Compute, ComputeArgs, first_v6
from egov6.hetzner.dns import DnsRecord, DnsZone, DnsZoneArgs
from egov6.hetzner.firewall import RoleFirewall, RoleFirewallArgs
from egov6.hetzner.network import PrivateNetwork, PrivateNetworkArgs
from egov6.outputs import LETS_ENCRYPT
from egov6.secrets import generated_secrets
from egov6.topology import Host, Topology, build_topology, dns_records


def config_from_pulumi() -> StackConfig:
    """Reads the stack's ``egov6:*`` keys through ``pulumi.Config`` into the same model the CLI uses."""
    config = pulumi.Config(NAMESPACE)
    data: dict[str, Any] = {}
    for key in StackConfig.model_fields:
        raw = config.get(key)
        if raw is None:
            continue
        # Pulumi keeps structured values as JSON and scalars as plain text.
        try:
            data[key] = json.loads(raw)
        except ValueError:
            data[key] = raw
    return load_stack_mapping(data, f"stack {pulumi.get_stack()} (pulumi config)")


def declare(topology: Topology) -> dict[str, Any]:
    """Declares every resource of the topology; returns the stack outputs."""
    cfg = topology.config
    protect = cfg.protected
    network = PrivateNetwork(
        cfg.name,
        PrivateNetworkArgs(
            ip_range=str(cfg.network.ip_range),
            subnet=str(cfg.network.subnet),
            zone=cfg.network.zone,
            labels=topology.labels_for("network", "internal"),
            protect=protect,
        ),
    )
    firewalls = {
        role: RoleFirewall(
            f"{cfg.name}-{role}",
            RoleFirewallArgs(role=role, rules=rules, labels=topology.labels_for(role, "internal")),
        )
        for role, rules in topology.rules.items()
    }
    # The controller's automation account: its key is generated into the encrypted state, so every admin's
    # controller converges with it (from the outputs); admins' own keys reach the hosts through the base role.
    automation = tls.PrivateKey(f"{cfg.name}-automation", algorithm="ED25519")
    automation_key = hcloud.SshKey(
        f"{cfg.name}-automation",
        name=f"{cfg.name}-automation",
        public_key=automation.public_key_openssh,
        labels=topology.labels_for("admin", "internal"),
    )
    # The controller's key for the backup repositories' upkeep (prune, compact), in the state like the automation key.
    maintenance = tls.PrivateKey(f"{cfg.name}-backup-maintenance", algorithm="ED25519")
    compute = Compute(
        f"{cfg.name}-compute",
        ComputeArgs(
            name=cfg.name,
            hosts=topology.hosts,
            network_id=network.network.id.apply(int),
            firewall_ids={role: fw.firewall.id.apply(int) for role, fw in firewalls.items()},
            ssh_key_ids=[automation_key.id],
            automation_public_key=automation.public_key_openssh,
            domain=cfg.domain,
            # Label values allow no underscore: server_side → server-side.
            encryption=cfg.encryption.at_rest.replace("_", "-"),
            labels=topology.labels_for("compute", "internal"),
            protect=protect,
        ),
        opts=pulumi.ResourceOptions(depends_on=[network.subnet]),
    )
    servers = compute.servers
    records = [
        DnsRecord(name, servers[host].ipv4.ip_address, servers[host].ipv6.ip_address.apply(first_v6))
        for name, host in dns_records(topology).items()
    ]
    DnsZone(
        f"{cfg.name}-dns",
        DnsZoneArgs(
            domain=cfg.domain,
            ttl=cfg.dns.ttl,
            records=[_relative(r, cfg.domain) for r in records],
            labels=topology.labels_for("dns", "internal"),
            protect=protect,
        ),
    )
    if cfg.backup.target == "storage_box":
        BackupStorage(
            f"{cfg.name}-backup",
            BackupStorageArgs(
                name=f"{cfg.name}-backup",
                location=cfg.backup.location,
                box_type=cfg.backup.storage_box_type,
                clients=[h.name for h in topology.hosts],
                labels=topology.labels_for("backup", "personal"),
                protect=protect,
            ),
        )
    # Every secret the roles read, generated once into the encrypted state (egov6.secrets is the catalogue).
    generated = {
        secret.file: random.RandomPassword(f"{cfg.name}-secret-{secret.file}", length=secret.length, special=False)
        for secret in generated_secrets(topology)
    }
    hosts = [
        pulumi.Output.all(
            servers[h.name].ipv4.ip_address,
            servers[h.name].ipv6.ip_address,
            servers[h.name].host_keys,
            pulumi.Output.all(**{p: v.id for p, v in servers[h.name].volumes.items()}),
        ).apply(functools.partial(_host_output, h))
        for h in topology.hosts
    ]
    # The stack outputs document (egov6.outputs): what `egov6 inventory` reads; secrets stay secret in the state.
    return {
        "stack": topology.stack,
        "environment": cfg.environment,
        "hosts": hosts,
        "automation": {
            "user": AUTOMATION_USER,
            "public_key": automation.public_key_openssh,
            "private_key": pulumi.Output.secret(automation.private_key_openssh),
        },
        "secrets": pulumi.Output.secret({name: password.result for name, password in generated.items()}),
        "acme": LETS_ENCRYPT.model_dump(mode="json"),
        "backup_maintenance": {
            "public_key": maintenance.public_key_openssh,
            "private_key": pulumi.Output.secret(maintenance.private_key_openssh),
        },
    }


def _host_output(host: Host, values: list[Any]) -> dict[str, Any]:
    """One host as the inventory generator needs it."""
    ipv4, ipv6, host_keys, volumes = values
    return {
        "name": host.name,
        "role": host.role,
        "location": host.location,
        "private_ip": host.private_ip,
        "ipv4": ipv4,
        "ipv6": first_v6(ipv6),
        "host_keys": host_keys,
        "volumes": {purpose: str(volume_id) for purpose, volume_id in volumes.items()},
    }


def _relative(record: DnsRecord, domain: str) -> DnsRecord:
    return DnsRecord(record.name.removesuffix(f".{domain}"), record.ipv4, record.ipv6)


def main() -> None:
    cfg = config_from_pulumi()
    for key, value in declare(build_topology(cfg, pulumi.get_stack())).items():
        pulumi.export(key, value)
