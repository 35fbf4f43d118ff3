"""Runs the Pulumi program offline under ``pulumi.runtime.set_mocks`` and records what it declares.

There is no Pulumi engine here (and auditors have no cloud credentials): the mocks answer every registration
with the inputs plus the few values Hetzner would compute (ids, addresses), from documentation ranges.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from egov6.config.loader import NAMESPACE
from egov6.declared import Declaration, DeclaredResource
from egov6.hetzner.program import config_from_pulumi, declare
from egov6.topology import build_topology

# RFC 5737 / RFC 3849 documentation ranges: mock addresses can never be mistaken for real ones.
_V4 = ipaddress.ip_network("203.0.113.0/24")
_V6 = ipaddress.ip_network("2001:db8::/32")


# What generated passwords resolve to offline; tests pass their own to prove it never reaches a report.
MOCK_PASSWORD = "mock-password-not-a-secret"  # noqa: S105 a placeholder, not a credential


def _stable_number(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big") or 1


def _mock_ssh_key(name: str, algorithm: str) -> dict[str, str]:
    """A key pair in the shape pulumi_tls returns, derived from the name: well-formed for known_hosts and user-data,
    never a usable key. The public half is a digest; the private half is a plain sentence with no key material and
    no PEM armour, which still names itself a private key, so that the no-plaintext-secrets rule (ENC-02) catches it
    wherever it would be declared in plain text."""
    kind = {"ED25519": "ssh-ed25519", "RSA": "ssh-rsa"}[algorithm]
    blob = base64.b64encode(kind.encode() + hashlib.sha256(name.encode()).digest()).decode()
    private = f"mock key of {name}: OPENSSH PRIVATE KEY stand-in, no key material\n"
    return {"publicKeyOpenssh": f"{kind} {blob}\n", "privateKeyOpenssh": private}


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, password: str = MOCK_PASSWORD) -> None:
        self.resources: list[DeclaredResource] = []
        self.password = password

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(DeclaredResource(args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        # Registration order is not deterministic: ids and addresses derive from the name, so that two
        # evaluations of the same declaration are equal (audit diff compares them).
        number = _stable_number(f"{args.typ}/{args.name}")
        if args.typ == "hcloud:index/primaryIp:PrimaryIp":
            if state.get("type") == "ipv4":
                state["ipAddress"] = str(_V4[number % 250 + 2])
            else:
                state["ipAddress"] = f"{_V6[(number % 2**16) * 2**80]}/64"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = self.password
        elif args.typ == "tls:index/privateKey:PrivateKey":
            state.update(_mock_ssh_key(args.name, str(state.get("algorithm"))))
        # Numeric ids, as Hetzner's; the program converts ids to int for references.
        return str(number), state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _config_values(data: dict[str, Any]) -> dict[str, str]:
    """The stack file's values as Pulumi keeps them: scalars as text, the rest as JSON."""

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dt.date):
            return value.isoformat()
        return json.dumps(value, default=str)

    return {f"{NAMESPACE}:{key}": encode(value) for key, value in data.items()}


def evaluate(data: dict[str, Any], stack: str, mocks: RecordingMocks | None = None) -> Declaration:
    """Evaluates the program for one stack's ``egov6:*`` values (namespace stripped) and records it."""
    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="egov6", stack=stack, preview=False)
    pulumi.runtime.set_all_config(_config_values(data))
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        declared = declare(build_topology(config_from_pulumi(), stack))
        return pulumi.Output.from_input(declared).apply(outputs.update)

    _sync_await(run_pulumi_func(lambda: _sync_await(program().future())))
    return Declaration(stack=stack, resources=tuple(mocks.resources), outputs=outputs)
