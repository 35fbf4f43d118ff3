"""One path for every stack: provision → stack outputs → inventory → converge → club spaces → verify.

Only provisioning differs: the lab backend boots nspawn hosts, a cloud stack runs ``pulumi up``. Both end in the
same stack outputs document (``egov6.outputs``); everything after it is this module's code for lab and cloud
alike, so the lab proves the production path. The CLI only presents what happens here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from egov6.backup import MAINTENANCE_KEY
from egov6.clubs.registry import ClubRegistry, load_registry
from egov6.clubs.spaces import ClubRun, desired_state, run_provisioner
from egov6.config.advice import stack_warnings
from egov6.config.loader import load_stack_mapping, read_stack_file, repo_root, stack_name, stack_path
from egov6.config.schema import StackConfig
from egov6.errors import Egov6Error
from egov6.hostlogs import keep_service_logs
from egov6.inventory import Connection, inventory_dir, trust_bundle, write_inventory, write_ssh_config
from egov6.outputs import StackOutputs, check_against, local_dir, outputs_path, read_outputs, write_outputs
from egov6.runner import EventSink, RunResult, ansible_env, run_playbook
from egov6.secrets import stage_environment_secrets, stage_generated_secrets, write_secret
from egov6.topology import Topology, build_topology

Progress = Callable[[str], None]
T = TypeVar("T")
AUTOMATION_KEY = "automation_ed25519"


class StageFailed(Egov6Error):
    """A stage of ``up`` failed: the message names the stage, what failed, and that later stages did not run."""

    def __init__(self, stack: str, stage: str, cause: BaseException) -> None:
        super().__init__(f"stack {stack}: stage '{stage}' failed: {cause}")
        self.stage = stage


@dataclass(frozen=True)
class Stack:
    """A stack file, loaded and validated once per command."""

    name: str
    path: Path
    config: StackConfig
    topology: Topology
    data: dict[str, object] = field(hash=False)  # the egov6 keys as written (the Pulumi program's config)
    clubs: ClubRegistry = field(hash=False)  # clubs/<stack>.yaml, validated against the stack

    @classmethod
    def load(cls, stack: str) -> Stack:
        path = stack_path(stack)
        data = read_stack_file(path)
        config = load_stack_mapping(data, str(path))
        name = stack_name(path)
        return cls(name, path, config, build_topology(config, name), data, load_registry(name, config))

    @property
    def is_lab(self) -> bool:
        return self.config.environment == "lab"

    @property
    def local(self) -> Path:
        return local_dir(self.name)


# --- outputs -------------------------------------------------------------------------------------------------


def pulumi_outputs(stack: Stack) -> StackOutputs:
    """A cloud stack's outputs from Pulumi's state (``pulumi stack output --json --show-secrets``)."""
    from egov6.hetzner.deploy import stack_outputs  # Pulumi is imported only where it is needed

    return stack_outputs(stack.name)


def stack_outputs(stack: Stack, saved: Path | None = None, refresh: bool = False) -> StackOutputs:
    """The outputs a converge works from: a saved document when named (offline review, a second admin), else the
    stack's own (``.egov6/<stack>/outputs.json``, root-only: the lab writes it; for a cloud stack it is Pulumi's,
    fetched again with ``refresh`` or when missing)."""
    kept = outputs_path(stack.name)
    if saved is not None and saved.resolve() != kept.resolve():
        outputs, source = read_outputs(saved), str(saved)
    elif stack.is_lab or (kept.is_file() and not refresh):
        # the stack's own document, read and kept as it is
        outputs = read_outputs(kept)
        check_against(outputs, stack.topology, f"the saved outputs of stack {stack.name} ({kept})")
        return outputs
    else:
        outputs, source = pulumi_outputs(stack), f"the Pulumi outputs of stack {stack.name}"
    check_against(outputs, stack.topology, source)  # a foreign document never replaces the stack's own
    write_outputs(kept, outputs)
    return outputs


# --- inventory -----------------------------------------------------------------------------------------------


def write_stack_inventory(
    stack: Stack, outputs: StackOutputs, local: Path | None = None, folder: Path | None = None
) -> Path:
    """Writes everything a converge reads, from the stack file and its outputs alone: the automation key, known_hosts
    with the pinned host keys, the ssh config, the generated secrets, the roots to trust, and the inventory (into
    ``.egov6/<stack>/`` and ``inventories/<stack>/`` unless told otherwise)."""
    check_against(outputs, stack.topology, f"the outputs of stack {stack.name}")
    local = local or stack.local
    key = local / AUTOMATION_KEY
    write_secret(key, outputs.automation.private_key.get_secret_value().strip() + "\n")
    addresses = {host.name: host.ipv4 for host in outputs.hosts}
    write_ssh_config(local / "ssh_config", outputs, key)
    stage_generated_secrets(stack.topology, outputs.secret_values(), local / "secrets")
    if outputs.backup_maintenance:
        private = outputs.backup_maintenance.private_key.get_secret_value().strip() + "\n"
        write_secret(local / MAINTENANCE_KEY, private)
    if outputs.acme.roots:
        write_secret(trust_bundle(local), "".join(outputs.acme.roots))  # public, but the folder is root-only anyway
    connection = connection_from(outputs, key, local)
    volume_ids = {h.name: h.volumes for h in outputs.hosts}
    return write_inventory(stack.topology, addresses, connection, folder, volume_ids)


def connection_from(outputs: StackOutputs, key: Path, local: Path) -> Connection:
    """How the controller reaches the hosts of ``outputs`` (its files in ``local``), and what the inventory takes
    from the outputs besides: the automation account, the backup maintenance key, the ACME server."""
    return Connection(
        user=outputs.automation.user,
        key_file=key,
        ssh_config=local / "ssh_config",
        automation_user=outputs.automation.user,
        automation_key=outputs.automation.public_key.strip(),
        local_dir=local,
        backup_maintenance_key=outputs.backup_maintenance.public_key.strip() if outputs.backup_maintenance else "",
        acme=outputs.acme,
    )


def inventory(stack: Stack, saved: Path | None = None, refresh: bool = False) -> Path:
    return write_stack_inventory(stack, stack_outputs(stack, saved, refresh))


# --- converge and verify ---------------------------------------------------------------------------------------


def converge(
    stack: Stack,
    *,
    limit: str | None = None,
    tags: str | None = None,
    on_event: EventSink | None = None,
    saved: Path | None = None,
    fresh_inventory: bool = True,
) -> RunResult:
    """Runs playbooks/site.yml through ansible-runner on an inventory written fresh from the stack file and its
    outputs (so a changed stack file, e.g. an admin removed, reaches the hosts)."""
    refuse_unverifiable_releases(stack)
    folder = inventory(stack, saved) if fresh_inventory else inventory_dir(stack.name)
    stage_environment_secrets(stack.config, stack.local / "secrets")
    return run_playbook(folder, artifacts=stack.local / "runner", limit=limit, tags=tags, on_event=on_event)


def refuse_unverifiable_releases(stack: Stack) -> None:
    """An upstream Nextcloud release is verified against the release key file in the repository (the nextcloud
    role's README says how to add it): without that file the converge would stop halfway, so it does not start."""
    key = repo_root() / "playbooks" / "roles" / "nextcloud" / "files" / "nextcloud-release.gpg"
    if stack.topology.by_role("cloud") and stack.config.nextcloud.source == "upstream" and not key.is_file():
        raise Egov6Error(f"{stack.path}: egov6:nextcloud.source: upstream, but Nextcloud's release key is not in "
                         f"the repository ({key.relative_to(repo_root())}; see the nextcloud role's README): the "
                         "release could not be verified; nothing was applied")  # fmt: skip


def converge_failure(result: RunResult) -> str | None:
    if result.failed_hosts or result.rc != 0:
        details = "; ".join(f"{h}: {t}: {m}" for h, t, m in result.failures[:5])
        return f"converge failed on {', '.join(result.failed_hosts) or 'the run'}: {details}"
    return None


def verify(stack: Stack, extra: list[str] | None = None, on_logs: Progress | None = None) -> int:
    """The pytest-testinfra host tests against the stack's inventory; returns pytest's exit code."""
    hosts_file = inventory_dir(stack.name) / "hosts.yml"
    if not hosts_file.is_file():
        raise Egov6Error(f"no inventory for {stack.name}: run `egov6 inventory {stack.name}` or `egov6 up` first")
    args = [
        sys.executable, "-m", "pytest", str(repo_root() / "tests" / "hosts"),
        # No --hosts: each test module names its host group (testinfra_hosts), the rest run on all hosts.
        f"--ansible-inventory={hosts_file}", "--connection=ansible", "-p", "no:cacheprovider", "-n", "4",
        *(extra or []),
    ]  # fmt: skip
    rc = subprocess.call(args, cwd=repo_root(), env={**os.environ, **ansible_env()})
    if rc not in (0, 5):
        for path in keep_service_logs(hosts_file, stack.local / "logs"):
            if on_logs:
                on_logs(str(path.relative_to(repo_root())))
    return rc


# --- up: the stages in order ------------------------------------------------------------------------------------


@dataclass
class UpTimes:
    stages: dict[str, float] = field(default_factory=dict)

    def timed(self, stack: str, stage: str, work: Callable[[], T]) -> T:
        began = time.monotonic()
        try:
            return work()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise StageFailed(stack, stage, exc) from exc
        finally:
            self.stages[stage] = time.monotonic() - began


def refuse_placeholders(stack: Stack) -> None:
    """What Hetzner or the real world would refuse, refused before anything is deployed (``check`` only warns)."""
    if stack.is_lab:
        return
    blocking = [(key, message) for key, message in stack_warnings(stack.config) if key.startswith("admin_ranges")]
    if blocking:
        raise Egov6Error(
            f"{stack.path}: not deployed (nothing was applied): "
            + "; ".join(f"egov6:{key}: {message}" for key, message in blocking)
        )


def up(
    stack: Stack,
    provision: Callable[[], object],
    *,
    on_event: EventSink | None = None,
    progress: Progress = lambda _message: None,
) -> tuple[UpTimes, RunResult]:
    """provision (lab backend or policies + ``pulumi up``) → outputs → inventory → converge → clubs → verify."""
    times = UpTimes()
    times.timed(stack.name, "provision", provision)
    progress("reading the stack outputs")
    outputs = times.timed(stack.name, "outputs", lambda: stack_outputs(stack, refresh=True))
    progress("writing the inventory, known_hosts and secrets from the outputs")
    times.timed(stack.name, "inventory", lambda: write_stack_inventory(stack, outputs))
    progress(f"converging stack {stack.name} (playbooks/site.yml)")
    result = times.timed(stack.name, "converge", lambda: _converged(stack, on_event))
    if stack.topology.by_role("cloud"):
        progress(f"club spaces: {len(stack.clubs.clubs)} clubs of clubs/{stack.name}.yaml to the cloud host")
        clubs = times.timed(stack.name, "clubs", lambda: apply_clubs(stack))
        progress(f"club spaces: {clubs.clubs_changed} clubs changed ({len(clubs.changes)} items)")
    progress(f"verifying stack {stack.name} with testinfra (tests/hosts)")
    rc = times.timed(stack.name, "verify", lambda: verify(stack, on_logs=progress))
    if rc:
        raise StageFailed(stack.name, "verify", Egov6Error(f"pytest exit {rc}"))
    return times, result


def apply_clubs(stack: Stack) -> ClubRun:
    """The stack's club registry applied on its cloud host (the same provisioner `egov6 clubs apply` runs)."""
    run = run_provisioner(stack.topology, "apply", desired_state(stack.clubs, stack.config))
    if run.errors:
        failed = "; ".join(f"{club}: {error}" for club, error in run.errors[:5])
        raise Egov6Error(f"{len(run.errors)} club spaces failed (the next apply retries them): {failed}")
    return run


def _converged(stack: Stack, on_event: EventSink | None) -> RunResult:
    result = converge(stack, on_event=on_event, fresh_inventory=False)
    failure = converge_failure(result)
    if failure:
        raise Egov6Error(failure)
    return result
