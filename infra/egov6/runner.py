"""Runs playbooks through ansible-runner with live progress, a summary per host and kept artifacts."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_runner import Runner, RunnerConfig

from egov6.config.loader import repo_root
from egov6.errors import Egov6Error

EventSink = Callable[[str, str, str, Counter[str]], None]  # (host, task, status, running totals)

ROLE_IN_TASK_PATH = re.compile(r"/roles/([^/]+)/")
STATUS_OF_EVENT = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class RunResult:
    status: str
    rc: int
    hosts: dict[str, HostSummary]
    artifacts: Path
    changed_tasks: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # host, task, message
    skipped: list[str] = field(default_factory=list)  # "host: concern: reason" reported by the roles
    seconds: float = 0.0  # wall time of the whole run
    role_seconds: dict[tuple[str, str], float] = field(default_factory=dict)  # (host, role) → time in its tasks

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, s in self.hosts.items() if s.failed or s.unreachable)

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.hosts.values())


def _message(data: dict[str, Any]) -> str:
    """The module's message plus the last line of its stderr: "failed to validate" alone helps nobody."""
    result = data.get("res") or {}
    # a loop's own message ("One or more items failed") says nothing: its failed items' messages do
    failed = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    parts = [str(part.get(key) or "").strip() for part in failed or [result] for key in ("msg", "stderr",
             "module_stderr")]  # fmt: skip
    lines = [part.splitlines()[-1] for part in parts if part]
    return " / ".join(dict.fromkeys(lines))[:600]


# What a playbook run inherits from the controller's environment; everything else (cloud tokens, the secrets
# egov6 reads from the environment, the admin's other variables) stays out of the run and of its artifacts.
INHERITED_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSH_AUTH_SOCK")
KEPT_RUNS = 3  # artifact folders kept per stack (events of the last runs, for a look after a failure)


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise Egov6Error(f"the Python package {name} is missing: run scripts/bootstrap")
    return Path(spec.origin).parent


def ansible_env() -> dict[str, str]:
    """Environment for Ansible tools (playbooks and testinfra): the project's config and its venv.

    Playbooks run with Mitogen's strategies: one Python interpreter per host for the whole run instead of a fresh
    one (and a re-import of Ansible's module code) per task. On the two-CPU machines egov6 is measured on, that
    took a no-op converge of the lab from about 70 s of wall time to about 35 s (bench/lab.py).
    """
    root = repo_root()
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(_package_dir("ansible_mitogen") / "plugins" / "strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        # ansible-playbook and ansible-inventory live beside this interpreter (the project's venv).
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(root / "playbooks" / "roles"),
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        # ansible-runner switches host key checking off unless told: the hosts' keys are pinned (known_hosts from
        # the stack outputs), an unknown or changed key must stop the run.
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }


def scrubbed_env(prepared: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
    """ansible-runner starts from the whole environment and writes it into each run's ``command`` artifact: keep
    only what it added itself (its callback), egov6's Ansible settings (``ours``, also when the caller's
    environment happens to hold the same value) and the few inherited harmless variables."""
    own = {k: v for k, v in prepared.items() if os.environ.get(k) != v or k in ours}
    return {**{k: os.environ[k] for k in INHERITED_ENV if k in os.environ}, **own}


def run_playbook(
    inventory: Path,
    playbook: str = "site.yml",
    *,
    artifacts: Path,
    limit: str | None = None,
    tags: str | None = None,
    extravars: dict[str, Any] | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Runs a playbook; ``extravars`` appear on ansible-playbook's command line and never carry a secret."""
    root = repo_root()
    playbooks = root / "playbooks"
    if not (playbooks / playbook).is_file():
        raise Egov6Error(f"playbook {playbook} not found in playbooks/")
    if not (inventory / "hosts.yml").is_file():
        raise Egov6Error(f"no inventory at {inventory}: bring the stack up first (egov6 lab up / egov6 up)")
    artifacts.mkdir(parents=True, exist_ok=True)
    settings = ansible_env()
    totals: Counter[str] = Counter()
    changed_tasks: list[tuple[str, str]] = []
    failures: list[tuple[str, str, str]] = []
    notes: set[str] = set()
    role_seconds: defaultdict[tuple[str, str], float] = defaultdict(float)

    def handler(event: dict[str, Any]) -> bool:
        status = STATUS_OF_EVENT.get(event.get("event", ""))
        if status is None:
            return True
        data = event.get("event_data", {})
        host, task = data.get("host", "?"), data.get("task", "?")
        role = ROLE_IN_TASK_PATH.search(str(data.get("task_path", "")))
        role_seconds[host, role.group(1) if role else "(play)"] += float(data.get("duration") or 0.0)
        res = data.get("res") or {}
        for item in [res, *(res.get("results") or [])]:
            message = str(item.get("msg", "")) if isinstance(item, dict) else ""
            if status == "ok" and message.startswith("SKIPPED "):
                notes.add(f"{host}: {message.removeprefix('SKIPPED ')}")
        if status == "ok" and (data.get("res") or {}).get("changed"):
            status = "changed"
            changed_tasks.append((host, task))
        if status in ("failed", "unreachable") and not data.get("ignore_errors"):
            failures.append((host, task, _message(data)))
        totals[status] += 1
        if on_event:
            on_event(host, task, status, totals)
        return True

    began = time.monotonic()
    artifacts.chmod(0o700)  # events hold host facts and task results: root (the controller's user) only
    # Older runs wrote env/envvars (the whole environment), which ansible-runner would read again: gone.
    shutil.rmtree(artifacts / "env", ignore_errors=True)
    config = RunnerConfig(
        private_data_dir=str(artifacts),
        project_dir=str(playbooks),
        playbook=playbook,
        inventory=str(inventory / "hosts.yml"),
        limit=limit,
        tags=tags,
        extravars=extravars or {},
        envvars=settings,
        quiet=True,
        rotate_artifacts=KEPT_RUNS,
        suppress_env_files=True,
    )
    config.prepare()
    config.env = scrubbed_env(config.env, settings)
    result = Runner(config=config, event_handler=handler)
    result.run()
    stats = result.stats or {}
    hosts: dict[str, HostSummary] = {}
    for key, attr in (("ok", "ok"), ("changed", "changed"), ("failures", "failed"), ("dark", "unreachable"),
                      ("skipped", "skipped")):  # fmt: skip
        for host, count in (stats.get(key) or {}).items():
            setattr(hosts.setdefault(host, HostSummary()), attr, count)
    if not hosts and result.rc != 0:
        tail = (Path(result.config.artifact_dir) / "stdout").read_text(encoding="utf-8", errors="replace")
        failures.append(("-", "ansible-playbook", " / ".join(tail.strip().splitlines()[-3:])))
    return RunResult(
        status=result.status,
        rc=result.rc,
        hosts=hosts,
        artifacts=Path(result.config.artifact_dir),
        changed_tasks=changed_tasks,
        failures=failures,
        skipped=sorted(notes),
        seconds=time.monotonic() - began,
        role_seconds=dict(role_seconds),
    )
