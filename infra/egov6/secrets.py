"""Secrets a stack takes from the controller's environment (never from the stack file), handed to the playbooks
through the stack's root-only secrets folder.

Playbooks run with a scrubbed environment (see ``runner``): a token in the environment would otherwise end up in
ansible-runner's artifacts. Each secret the stack needs is copied into ``.egov6/<stack>/secrets/`` (mode 0600)
before a converge; one that the stack needs and the environment lacks stops the converge before anything is
applied, naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from egov6.config.schema import StackConfig
from egov6.errors import Egov6Error


@dataclass(frozen=True)
class EnvironmentSecret:
    variable: str
    file: str  # name in the stack's secrets folder, read by the role that needs it
    needed: Callable[[StackConfig], bool]
    purpose: str


ENVIRONMENT_SECRETS = (
    EnvironmentSecret(
        "EGOV6_FLOW_OIDC_CLIENT_SECRET",
        "spiffworkflow-openid-client-secret",
        lambda cfg: bool(cfg.workflow and cfg.workflow.openid.provider == "external"),
        "the workflow engine's client secret at the external OpenID provider",
    ),
)


def stage_environment_secrets(cfg: StackConfig, secrets_dir: Path) -> list[str]:
    """Writes the environment secrets this stack needs into its secrets folder; returns the files written."""
    needed = [secret for secret in ENVIRONMENT_SECRETS if secret.needed(cfg)]
    missing = [s for s in needed if not os.environ.get(s.variable, "").strip()]
    if missing:
        raise Egov6Error(
            "not set in the environment (nothing was applied): "
            + "; ".join(f"{s.variable} ({s.purpose})" for s in missing)
        )
    written = []
    for secret in needed:
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = secrets_dir / secret.file
        value = os.environ[secret.variable].strip()
        if not path.is_file() or path.read_text(encoding="utf-8") != value:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(value)
            written.append(secret.file)
    return written
