"""The lab's stack outputs: the same document the Pulumi program exports, generated for the lab's hosts.

What Pulumi keeps in its state (host keys, the automation key, generated secrets) the lab keeps in this document:
each value is generated once and kept on every later ``lab up``, so re-running changes nothing, and the document
alone is what a second admin needs to converge the lab.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from egov6.bootstrap import AUTOMATION_USER, HOST_KEY_TYPES, KeyPair, user_data
from egov6.lab.keys import new_lab_ca, new_ssh_key
from egov6.lab.volumes import lab_volume_ids
from egov6.outputs import (
    AutomationOutput,
    HostOutput,
    KeyPairOutput,
    LabCaOutput,
    StackOutputs,
    write_private_json,
)
from egov6.secrets import generated_secrets, new_secret
from egov6.topology import Topology

LAB_LOCATION = "lab"


HostKeys = dict[str, dict[str, KeyPair]]  # host → key type → pair


def lab_outputs(topology: Topology, previous: StackOutputs | None, host_keys: HostKeys) -> StackOutputs:
    """The outputs for the lab's hosts; values of ``previous`` are kept, missing ones generated.

    ``host_keys`` are the private host keys, kept in the lab's state folder (root-only) as Pulumi keeps them in
    its state: the outputs carry only the public halves. Hosts without keys get new ones (added to it).
    """
    automation = previous.automation if previous else None
    if automation is None:
        pair = new_ssh_key("ed25519", f"egov6-automation-{topology.stack}")
        automation = AutomationOutput(user=AUTOMATION_USER, public_key=pair.public_key, private_key=pair.private_key)
    for host in topology.hosts:
        keys = host_keys.setdefault(host.name, {})
        for kind in HOST_KEY_TYPES:
            if kind not in keys:
                keys[kind] = new_ssh_key(kind)
    secrets = previous.secret_values() if previous else {}
    for secret in generated_secrets(topology):
        secrets.setdefault(secret.file, new_secret(secret.length))
    maintenance = previous.backup_maintenance if previous else None
    if maintenance is None:
        pair = new_ssh_key("ed25519", f"egov6-backup-maintenance-{topology.stack}")
        maintenance = KeyPairOutput(public_key=pair.public_key, private_key=pair.private_key)
    ca = previous.lab_ca if previous else None
    if ca is None:
        pair = new_lab_ca(topology.stack)
        ca = LabCaOutput(certificate=pair.public_key, private_key=pair.private_key)
    hosts = tuple(
        HostOutput(
            name=host.name,
            role=host.role,
            location=LAB_LOCATION,
            private_ip=host.private_ip,
            ipv4=host.private_ip,  # the controller reaches lab hosts on the bridge
            host_keys=tuple(host_keys[host.name][kind].public_key for kind in HOST_KEY_TYPES),
            volumes=lab_volume_ids(host),
        )
        for host in topology.hosts
    )
    return StackOutputs(
        stack=topology.stack,
        environment=topology.config.environment,
        hosts=hosts,
        automation=automation,
        secrets=secrets,
        lab_ca=ca,
        **({"acme": previous.acme} if previous else {}),  # the roots of the lab's ACME server so far
        backup_maintenance=maintenance,
    )


def load_host_keys(path: Path) -> HostKeys:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {host: {kind: KeyPair(**pair) for kind, pair in keys.items()} for host, keys in data.items()}


def save_host_keys(path: Path, keys: HostKeys) -> None:
    write_private_json(
        path, {host: {kind: asdict(pair) for kind, pair in pairs.items()} for host, pairs in keys.items()}
    )


def seed(outputs: StackOutputs, host: str, keys: HostKeys) -> dict[str, str]:
    """The NoCloud seed files of one host: its identity and the user-data a Hetzner server gets."""
    return {
        "meta-data": f"instance-id: {host}\nlocal-hostname: {host}\n",
        "user-data": user_data(outputs.automation.public_key, keys[host]),
    }
