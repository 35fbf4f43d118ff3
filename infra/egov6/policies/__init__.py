"""GDPR / BSI IT-Grundschutz policies: plain functions over the declared resources."""

from egov6.policies.rules import RULES, PolicyResult, Rule, Violation, evaluate_policies

__all__ = ["RULES", "PolicyResult", "Rule", "Violation", "evaluate_policies"]
