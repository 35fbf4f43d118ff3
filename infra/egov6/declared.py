"""What a stack declares, as plain data: the resources the Pulumi program registers and its outputs.

Policies and the audit report read this; it is filled by evaluating the program under mocks
(:mod:`egov6.hetzner.evaluate`) or, in a real ``pulumi preview``, by the policy pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeclaredResource:
    type: str  # Pulumi type token, e.g. "hcloud:index/server:Server"
    name: str  # logical name
    props: dict[str, Any] = field(hash=False)  # inputs, camelCase as the engine sees them

    @property
    def kind(self) -> str:
        """The short type name: ``Server`` for ``hcloud:index/server:Server``."""
        return self.type.rsplit(":", 1)[-1]

    @property
    def labels(self) -> dict[str, str]:
        labels = self.props.get("labels") or {}
        return dict(labels)


@dataclass(frozen=True)
class Declaration:
    stack: str
    resources: tuple[DeclaredResource, ...]
    outputs: dict[str, Any]

    def of_kind(self, kind: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.kind == kind]
