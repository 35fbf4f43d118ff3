"""Every policy: the production declaration complies, and a declaration that breaks the rule is caught."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from egov6.declared import Declaration, DeclaredResource
from egov6.policies import RULES, evaluate_policies

Mutation = Callable[[list[DeclaredResource]], list[DeclaredResource]]


def _edit(kind: str, change: Callable[[dict[str, Any]], None], first_only: bool = True) -> Mutation:
    """Changes the props of the first (or every) resource of a kind."""

    def mutate(resources: list[DeclaredResource]) -> list[DeclaredResource]:
        out, done = [], False
        for res in resources:
            if res.kind == kind and not (first_only and done):
                props = copy.deepcopy(res.props)
                change(props)
                out.append(replace(res, props=props))
                done = True
            else:
                out.append(res)
        assert done, f"no {kind} to mutate"
        return out

    return mutate


def _add_rule(rule: dict[str, Any]) -> Mutation:
    return _edit("Firewall", lambda p: p["rules"].append(rule))


def _drop(kind: str) -> Mutation:
    return lambda resources: [r for r in resources if r.kind != kind]


VIOLATIONS: dict[str, tuple[Mutation, str]] = {
    "LOC-01": (_edit("Server", lambda p: p.update(location="ash")), "outside Germany"),
    "BAK-03": (_edit("StorageBox", lambda p: p.update(location="fsn1")), "same location"),
    "NET-01": (_edit("Server", lambda p: p.update(firewallIds=[])), "no Hetzner firewall"),
    "NET-01b": (
        _add_rule({"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": ["0.0.0.0/0"]}),
        "whole Internet",
    ),
    "NET-03": (
        _add_rule({"direction": "in", "protocol": "tcp", "port": "5000-6000", "sourceIps": ["10.0.0.0/8"]}),
        "PostgreSQL",
    ),
    "NET-02": (
        _edit("Firewall", lambda p: p.update(rules=[r for r in p["rules"] if r["direction"] == "in"])),
        "no outbound rule",
    ),
    "ENC-01": (_edit("Volume", lambda p: p["labels"].update(encryption="none")), "not encrypted"),
    "AVL-01": (_edit("Volume", lambda p: p.update(deleteProtection=False)), "without deleteProtection"),
    "ACC-01": (_edit("PrimaryIp", lambda p: p["labels"].pop("owner")), "missing labels: owner"),
    "BAK-04": (
        _edit("StorageBox", lambda p: p["accessSettings"].update(reachableExternally=True, sambaEnabled=True)),
        "reachable from outside",
    ),
    "ENC-02": (_edit("StorageBox", lambda p: p.update(password="hunter2hunter2")), "plain text"),
    "PAT-02": (_edit("Server", lambda p: p.update(image="debian-10")), "not a supported Debian"),
    "CRY-04": (_edit("Server", lambda p: p.update(userData="#cloud-config\n")), "password logins"),
    "AVL-02": (_edit("Server", lambda p: p.pop("placementGroupId")), "no spread placement group"),
}


def test_every_rule_has_a_violation_case() -> None:
    assert {rule.id for rule in RULES} == set(VIOLATIONS)


def test_rules_have_unique_kebab_names_and_references() -> None:
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)
    for rule in RULES:
        assert rule.name == rule.name.lower() and " " not in rule.name
        assert rule.reference and rule.severity in ("critical", "high", "medium")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_compliant_production_passes(rule: Any, production: Declaration) -> None:
    assert rule(list(production.resources)) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_violation_is_caught_naming_resource(rule: Any, production: Declaration) -> None:
    mutate, words = VIOLATIONS[rule.id]
    violations = rule(mutate(list(production.resources)))
    assert violations, f"{rule.id} did not catch its violation"
    assert all(v.rule == rule.id for v in violations)
    assert any(words in v.message for v in violations), [v.message for v in violations]
    names = {r.name for r in production.resources} | {"stack"}
    assert all(v.resource in names for v in violations)


def test_hel1_needs_the_explicit_permission(production: Declaration) -> None:
    (rule,) = [r for r in RULES if r.id == "LOC-01"]
    in_hel1 = _edit("Server", lambda p: p.update(location="hel1"))(list(production.resources))
    assert rule(in_hel1)
    allowed = _edit("Server", lambda p: (p.update(location="hel1"), p["labels"].update(residency="eu")))(
        list(production.resources)
    )
    assert rule(allowed) == []


def test_production_without_storage_box_fails_backup_rule(production: Declaration) -> None:
    results = {r.rule.id: r for r in evaluate_policies(_drop("StorageBox")(list(production.resources)))}
    assert not results["BAK-03"].passed
    assert results["BAK-03"].violations[0].resource == "stack"
