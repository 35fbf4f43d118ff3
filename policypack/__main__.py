"""Policy pack for ``pulumi preview --policy-pack policypack``; the rules live in egov6.policies."""

from pulumi_policy import EnforcementLevel, PolicyPack

from egov6.policies.pack import PACK_NAME, policies

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
