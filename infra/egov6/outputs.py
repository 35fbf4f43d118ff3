"""The stack outputs document: what a provisioner hands to everything after it.

Both provisioners write the same document: the Pulumi program exports it (``pulumi stack output --json
--show-secrets``), the lab backend writes it for its hosts. From here on lab and cloud share one code path
(inventory → converge → verify), so the lab proves what production runs.

It holds the hosts with their roles, addresses, SSH host keys (public halves: the controller pins them) and volume
ids, the automation account with its key, and the generated secrets. The private values are secrets: the document
is kept root-only in ``.egov6/<stack>/outputs.json`` (never committed, never printed) and read from Pulumi's
encrypted state again whenever a cloud stack's inventory is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from egov6.config.loader import repo_root
from egov6.config.schema import Role
from egov6.errors import Egov6Error
from egov6.topology import Topology


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class HostOutput(_Document):
    name: str
    role: Role
    location: str
    private_ip: str
    ipv4: str = Field(description="Where the controller reaches the host: public IPv4 (cloud), bridge address (lab)")
    ipv6: str = ""
    host_keys: tuple[str, ...] = Field(min_length=1, description="Public SSH host keys, 'type base64'")
    volumes: dict[str, str] = Field(default_factory=dict, description="purpose → the provider's volume id")


class AutomationOutput(_Document):
    user: str
    public_key: str
    private_key: SecretStr


class KeyPairOutput(_Document):
    public_key: str
    private_key: SecretStr


class LabCaOutput(_Document):
    certificate: str
    private_key: SecretStr


class AcmeOutput(_Document):
    """Where the hosts get their certificates, and what they and the controller trust beyond the system's roots."""

    directory: str = Field(description="The ACME server's directory URL (Let's Encrypt; the lab's Pebble)")
    roots: tuple[str, ...] = Field(
        default=(), description="PEM certificates to trust besides the system's (none for Let's Encrypt)"
    )


# Production's certificates: Let's Encrypt, whose roots every Debian host trusts already.
LETS_ENCRYPT = AcmeOutput(directory="https://acme-v02.api.letsencrypt.org/directory")


class StackOutputs(_Document):
    stack: str
    environment: str
    hosts: tuple[HostOutput, ...]
    automation: AutomationOutput
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    lab_ca: LabCaOutput | None = None
    acme: AcmeOutput = LETS_ENCRYPT
    # the controller's key for the backup repositories' upkeep (prune, compact): not append-only, unlike the
    # hosts' own backup keys; absent in documents written before it existed (then made on the next provision)
    backup_maintenance: KeyPairOutput | None = None

    def host(self, name: str) -> HostOutput:
        return next(h for h in self.hosts if h.name == name)

    def secret_values(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self.secrets.items()}

    def document(self) -> dict[str, Any]:
        """The document with its secrets in clear, as Pulumi prints it with ``--show-secrets``."""
        data = self.model_dump(mode="json")
        data["automation"]["private_key"] = self.automation.private_key.get_secret_value()
        data["secrets"] = self.secret_values()
        if self.lab_ca:
            data["lab_ca"]["private_key"] = self.lab_ca.private_key.get_secret_value()
        if self.backup_maintenance:
            data["backup_maintenance"]["private_key"] = self.backup_maintenance.private_key.get_secret_value()
        return data


def local_dir(stack: str) -> Path:
    """Files of the checkout that are never committed: outputs, keys, known_hosts, secrets, runner artifacts."""
    return repo_root() / ".egov6" / stack


def outputs_path(stack: str) -> Path:
    return local_dir(stack) / "outputs.json"


def parse_outputs(data: Any, source: str) -> StackOutputs:
    try:
        return StackOutputs.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(document)'}: {error['msg']}" for error in exc.errors()
        )
        raise Egov6Error(f"{source}: not a stack outputs document: {problems}") from None


def read_outputs(path: Path) -> StackOutputs:
    if not path.is_file():
        raise Egov6Error(f"{path}: no stack outputs (bring the stack up first, or name a saved outputs file)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise Egov6Error(f"{path}: not JSON ({exc})") from None
    return parse_outputs(data, str(path))


def write_private_json(path: Path, data: Any) -> None:
    """Root-only, written whole or not at all (a torn document would lose the secrets in it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2)
    partial.replace(path)


def write_outputs(path: Path, outputs: StackOutputs) -> None:
    write_private_json(path, outputs.document())


def check_against(outputs: StackOutputs, topology: Topology, source: str) -> None:
    """The outputs must describe the stack file's hosts: a stale or foreign document never reaches a host."""
    problems = []
    if outputs.stack != topology.stack:
        problems.append(f"they are the outputs of stack {outputs.stack!r}, not {topology.stack!r}")
    declared = {h.name: h for h in topology.hosts}
    delivered = {h.name: h for h in outputs.hosts}
    problems += [f"host {name} is declared but has no outputs" for name in declared if name not in delivered]
    problems += [f"host {name} is in the outputs but not declared" for name in delivered if name not in declared]
    for name in declared.keys() & delivered.keys():
        host, out = declared[name], delivered[name]
        if (host.role, host.private_ip) != (out.role, out.private_ip):
            problems.append(
                f"host {name} is declared as {host.role} on {host.private_ip}, "
                f"the outputs say {out.role} on {out.private_ip}"
            )
    if problems:
        raise Egov6Error(
            f"{source} does not match the stack file (nothing was applied): {'; '.join(sorted(problems))}. "
            f"Run `egov6 up {topology.stack}` to bring the infrastructure to the stack file first"
        )
