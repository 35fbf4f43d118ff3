"""The pulumi-policy wrapper runs the same rules and reports through the engine's callback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import EnforcementLevel
from pulumi_policy.secret import Secret

from egov6.declared import Declaration
from egov6.policies import RULES
from egov6.policies.pack import policies


@dataclass
class FakeResource:
    resource_type: str
    name: str
    props: dict[str, Any]


@dataclass
class FakeArgs:
    resources: list[FakeResource]
    stack_tags: dict[str, str] = field(default_factory=dict)


def _run(policy: Any, resources: list[FakeResource]) -> list[str]:
    reported: list[str] = []
    policy._StackValidationPolicy__validate(FakeArgs(resources), lambda msg, urn=None: reported.append(msg))
    return reported


def test_one_mandatory_policy_per_rule() -> None:
    pack = policies()
    assert [p.name for p in pack] == [r.name for r in RULES]
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in pack)


def test_pack_passes_production_and_reports_a_violation(production: Declaration) -> None:
    resources = [FakeResource(r.type, r.name, r.props) for r in production.resources]
    by_name = {p.name: p for p in policies()}
    assert _run(by_name["ssh-admin-ranges-only"], resources) == []
    resources[0] = FakeResource("hcloud:index/server:Server", "rogue", {"location": "sin", "labels": {}})
    messages = _run(by_name["german-locations"], resources)
    assert messages == ["[LOC-01] rogue: location 'sin' is outside Germany (allowed: fsn1, nbg1)"]


def test_engine_secrets_count_as_secrets() -> None:
    box = {"password": Secret("x"), "labels": {}}
    plain = {"password": "x", "labels": {}}
    by_name = {p.name: p for p in policies()}
    check = by_name["no-plaintext-secrets"]
    assert _run(check, [FakeResource("hcloud:index/storageBox:StorageBox", "box", box)]) == []
    assert _run(check, [FakeResource("hcloud:index/storageBox:StorageBox", "box", plain)])
