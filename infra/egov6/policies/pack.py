"""The pulumi-policy wrapper: each plain rule becomes a mandatory StackValidationPolicy, so that
``pulumi preview --policy-pack policypack`` enforces exactly what ``egov6 check`` reports offline.

At a first preview many values are unknown (ids, addresses, anything derived from a generated key). The engine's
props raise on reading such a value, and a policy that raises is skipped with an advisory note: one unknown id
would silently switch off a whole rule for the stack. So each unknown value becomes the rules' ``UNKNOWN`` marker,
read value by value: a violation in the known values stops the preview, and a check whose value is still unknown is
left to the offline evaluation (``egov6 check``, run by ``egov6 preview``/``up`` first, every value known there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret

from egov6.declared import DeclaredResource
from egov6.policies.rules import RULES, SECRET_SIG, UNKNOWN, Rule

PACK_NAME = "egov6-gdpr-bsi"


def _read(container: Any, key: Any) -> Any:
    try:
        return _plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def _plain(value: Any) -> Any:
    """The engine's props as the rules take them: ``Secret`` as Pulumi's serialized marker (no rule puts a value
    into a message), each unknown value as ``UNKNOWN``."""
    if isinstance(value, Secret):
        return {SECRET_SIG: "secret", "value": _plain(value.value)}
    if isinstance(value, Mapping):
        return {key: _read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_read(value, index) for index in range(len(value))]
    return value


def to_declared(args: StackValidationArgs) -> list[DeclaredResource]:
    return [DeclaredResource(r.resource_type, r.name, _plain(r.props)) for r in args.resources]


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
