"""The secrets of a stack and how they reach the playbooks: through the stack's root-only secrets folder
(``.egov6/<stack>/secrets/``, mode 0600 files), which the roles read with ``lookup('file')``.

Two kinds:

* **Generated secrets** (database and Redis passwords, the TURN secret, the Nextcloud admin password, the engine's
  keys, the provisioning tokens): the catalogue below is their one declaration. The provisioner creates each one
  once and keeps it in the stack's state (``pulumi_random`` in Pulumi's encrypted state for cloud stacks, the
  lab's outputs document for the lab); the stack outputs carry them, and every converge writes them from there.
  Two admins on two machines therefore converge with the same values, and nothing on a controller generates one.
* **Environment secrets**, which egov6 cannot generate (a client secret issued by an external OpenID provider):
  taken from the controller's environment, never from the stack file.

Playbooks run with a scrubbed environment (see ``runner``): a token in the environment would otherwise end up in
ansible-runner's artifacts. A secret the stack needs and does not have stops the converge before anything is
applied, naming it.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from egov6.config.schema import StackConfig
from egov6.errors import Egov6Error
from egov6.topology import Topology

# Letters and digits only: every consumer (PostgreSQL URIs, Redis, turnserver.conf, env files) takes them unquoted.
ALPHABET = string.ascii_letters + string.digits
PROVISION_CLIENT = "egov6-flow"  # the workflow engine's name at the cloud's provisioning door


@dataclass(frozen=True)
class GeneratedSecret:
    file: str  # name in the stack's secrets folder, read by the role that needs it
    length: int
    purpose: str


def generated_secrets(topology: Topology) -> list[GeneratedSecret]:
    """Every secret the stack's roles read, generated once by the provisioner (one declaration for both)."""
    cfg = topology.config
    wanted: list[GeneratedSecret] = []
    if topology.by_role("cloud"):
        wanted += [
            GeneratedSecret("postgresql-nextcloud", 40, "Nextcloud's database password"),
            GeneratedSecret("nextcloud-admin", 32, "the Nextcloud admin's password (stays with the team)"),
            GeneratedSecret("redis", 40, "Redis's password (Nextcloud's cache and locks)"),
            GeneratedSecret("coturn", 48, "the TURN server's shared secret with Talk"),
        ]
    if cfg.workflow and topology.by_role("flow"):
        wanted += [
            GeneratedSecret("postgresql-spiffworkflow", 40, "the engine's database password"),
            GeneratedSecret("spiffworkflow-session-key", 64, "the engine's session signing key"),
            GeneratedSecret("spiffworkflow-encryption-key", 32, "the engine's key for secrets it stores"),
            GeneratedSecret("spiffworkflow-openid-client", 40, "the engine's client secret at its own OpenID"),
            GeneratedSecret(f"provision-token-{PROVISION_CLIENT}", 48, "the engine's token at the provisioning door"),
            *(
                GeneratedSecret(f"spiffworkflow-user-{user.name}", 24, f"built-in engine user {user.name}")
                for user in cfg.workflow.openid.users
            ),
        ]
    # one borg passphrase per service host: a stolen host opens only its own repository
    wanted += [
        GeneratedSecret(f"borg-{host.name}", 48, f"the passphrase of {host.name}'s borg repository")
        for host in topology.hosts
        if host.role in ("cloud", "flow")
    ]
    # one LUKS key per declared volume (the storage role installs it root-only on its host)
    if cfg.encryption.at_rest == "luks":
        wanted += [
            GeneratedSecret(f"luks-{volume.name}", 64, f"the LUKS key of volume {volume.name}")
            for host in topology.hosts
            for volume in host.volumes
        ]
    return wanted


def new_secret(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def write_secret(path: Path, value: str) -> bool:
    """Writes one secret file (0600, in a 0700 folder) unless it already holds the value; True when written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == value:
        return False
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value)
    return True


def stage_generated_secrets(topology: Topology, values: Mapping[str, str], secrets_dir: Path) -> list[str]:
    """Writes the stack's generated secrets from its outputs into the secrets folder; returns the files written.
    A secret the catalogue needs and the outputs lack stops here, before anything is applied."""
    missing = [s.file for s in generated_secrets(topology) if not values.get(s.file)]
    if missing:
        raise Egov6Error(
            f"the outputs of stack {topology.stack} lack the generated secrets {', '.join(missing)} "
            f"(nothing was applied): run `egov6 up {topology.stack}` so the provisioner creates them"
        )
    return [s.file for s in generated_secrets(topology) if write_secret(secrets_dir / s.file, values[s.file])]


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
    EnvironmentSecret(
        "EGOV6_SMTP_PASSWORD",
        "smtp-password",
        lambda cfg: bool(cfg.smtp and cfg.smtp.user),
        "the password of smtp.user at the stack's mail relay",
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
    return [s.file for s in needed if write_secret(secrets_dir / s.file, os.environ[s.variable].strip())]
