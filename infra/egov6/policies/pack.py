"""The pulumi-policy wrapper: each plain rule becomes a mandatory StackValidationPolicy, so that
``pulumi preview --policy-pack policypack`` enforces exactly what ``egov6 check`` reports offline."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.secret import Secret

from egov6.declared import DeclaredResource
from egov6.policies.rules import RULES, SECRET_SIG, Rule

PACK_NAME = "egov6-gdpr-bsi"


def _plain(value: Any) -> Any:
    """The engine hands secrets to policies as ``Secret``; the rules know Pulumi's serialized marker (and never
    put a value into a message)."""
    if isinstance(value, Secret):
        return {SECRET_SIG: "secret", "value": _plain(value.value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_declared(args: StackValidationArgs) -> list[DeclaredResource]:
    return [DeclaredResource(r.resource_type, r.name, _plain(dict(r.props))) for r in args.resources]


def _validator(rule: Rule) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in rule(to_declared(args)):
            report_violation(f"[{rule.id}] {violation.resource}: {violation.message}", None)

    return validate


def policies() -> list[StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name=rule.name,
            description=f"{rule.id} {rule.title} ({rule.reference})",
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=_validator(rule),
        )
        for rule in RULES
    ]
