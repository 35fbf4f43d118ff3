"""The pulumi-policy wrapper runs the same rules and reports through the engine's callback."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy
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


def _first_preview(resource: Any) -> FakeResource:
    """A resource as the engine shows it at a first preview: ids, addresses and user-data not known yet."""
    props = copy.deepcopy(resource.props)
    for key in ("placementGroupId", "networkId", "serverId", "volumeId", "ipAddress", "userData"):
        if key in props:
            props[key] = UNKNOWN_STRING_VALUE
    for key in ("firewallIds", "sshKeys"):
        if key in props:
            props[key] = [UNKNOWN_STRING_VALUE for _ in props[key]]
    if "password" in props:
        props["password"] = UNKNOWN_STRING_VALUE
    return FakeResource(resource.type, resource.name, unknown_checking_proxy(props))


def test_a_first_preview_with_unknown_values_still_enforces_every_rule(production: Declaration) -> None:
    """Unknown values neither switch a rule off for the stack nor count as violations; known ones are judged."""
    resources = [_first_preview(r) for r in production.resources]
    for policy in policies():
        assert _run(policy, resources) == [], policy.name
    # a violation among the known values stops the preview although other values are unknown
    server = next(i for i, r in enumerate(production.resources) if r.kind == "Server")
    rogue = copy.deepcopy(production.resources[server].props)
    rogue.update(location="sin", userData=UNKNOWN_STRING_VALUE, placementGroupId=UNKNOWN_STRING_VALUE)
    resources[server] = FakeResource("hcloud:index/server:Server", "rogue", unknown_checking_proxy(rogue))
    by_name = {p.name: p for p in policies()}
    assert _run(by_name["german-locations"], resources) == [
        "[LOC-01] rogue: location 'sin' is outside Germany (allowed: fsn1, nbg1)"
    ]
    assert _run(by_name["ssh-keys-only"], resources) == []  # user-data unknown: judged offline, not guessed


def test_the_engine_would_have_skipped_the_whole_rule_without_the_marker(production: Declaration) -> None:
    resources = [_first_preview(r) for r in production.resources]
    with pytest.raises(UnknownValueError):
        [dict(r.props) for r in resources]  # what the pack did before: one unknown value ends the rule
