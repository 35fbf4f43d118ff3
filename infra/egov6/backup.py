"""Backups of a stack's service hosts: run, list, check and export keys, from the controller.

The work happens on the hosts (the backup role's ``egov6-backup``): each service host holds its own backup key,
which the backup host lets only append to that host's repository, and its repository's passphrase. The controller
asks over the stack's SSH connection and reads the answers; no passphrase or archive content passes through it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from egov6.clubs.registry import ClubRegistry
from egov6.clubs.spaces import cloud_host
from egov6.errors import Egov6Error
from egov6.inventory import backup_repository_root, nextcloud_data_dir
from egov6.outputs import local_dir
from egov6.remote import checked, on_host
from egov6.topology import Topology

CLIENT = "/usr/local/sbin/egov6-backup"  # the backup role installs it
SERVICE = "egov6-backup.service"
MAINTENANCE_KEY = "backup_maintenance_ed25519"  # in .egov6/<stack>/, from the stack outputs


def clients(topology: Topology, only: str | None = None) -> list[str]:
    """The hosts that back up (cloud and flow), or the one asked for; a stack without a backup host says so."""
    cfg = topology.config
    if cfg.backup.target != "host" or not topology.by_role("backup"):
        raise Egov6Error(
            f"stack {topology.stack} backs up to a {cfg.backup.target}, which egov6 does not set up yet: only a "
            "backup host (backup.target: host) is enforced today"
        )
    names = [h.name for h in topology.hosts if h.role in ("cloud", "flow")]
    if only is None:
        return names
    if only not in names:
        raise Egov6Error(f"{only} is not a host that backs up in stack {topology.stack} (those: {', '.join(names)})")
    return [only]


def _answer(topology: Topology, host: str, command: str, what: str, timeout: float) -> Any:
    return json.loads(
        checked(topology.stack, host, f"sudo -n {CLIENT} {command}", what, timeout).strip().splitlines()[-1]
    )


@dataclass(frozen=True)
class Archive:
    name: str
    time: dt.datetime  # aware, UTC


def _archive(data: dict[str, str]) -> Archive:
    when = dt.datetime.fromisoformat(data["time"])  # with its offset (egov6-backup adds the host's zone)
    if when.tzinfo is None:
        raise Egov6Error(f"archive {data['name']}: a time without its zone ({data['time']})")
    return Archive(data["name"], when.astimezone(dt.UTC))


@dataclass(frozen=True)
class BackupRun:
    host: str
    archive: str
    seconds: float
    files: int
    original_size: int
    deduplicated_size: int
    archive_seconds: float  # borg create alone
    paused_seconds: float  # how long the service was in maintenance mode (0: none)


def run(topology: Topology, host: str, timeout: float = 6 * 3600) -> BackupRun:
    """One backup of ``host`` now, through its systemd unit (the same run the timer starts; a failure leaves the
    unit failed, which `systemctl --failed` and `egov6 backup status` show)."""
    done = on_host(topology.stack, host, f"sudo -n systemctl start {SERVICE}", "the backup", timeout)
    if done.returncode != 0:
        # this run's own lines (its invocation), not the tail of the unit's journal: systemd adds its own after
        read = (
            f"sudo -n sh -c 'journalctl --no-pager -o cat "
            f"_SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value {SERVICE})'"
        )
        why: list[str] = []
        for _ in range(5):  # journald may take a moment to store the unit's last lines
            journal = on_host(topology.stack, host, read, "reading the journal", 60)
            why = [line for line in journal.stdout.splitlines() if "egov6-backup:" in line]
            if why:
                break
            time.sleep(1)
        raise Egov6Error(f"{host}: the backup failed: {why[-1] if why else done.stderr.strip()}")
    record = _answer(topology, host, "last", "reading the backup's result", 60)
    return BackupRun(host, record["archive"], record["seconds"], record["files"], record["original_size"],
                     record["deduplicated_size"], record.get("archive_seconds", 0.0),
                     record.get("paused_seconds", 0.0))  # fmt: skip


def archives(topology: Topology, host: str) -> list[Archive]:
    return [_archive(a) for a in _answer(topology, host, "list", "listing the archives", 600)]


@dataclass(frozen=True)
class HostStatus:
    host: str
    last: Archive | None
    age: dt.timedelta | None
    check: str  # "ok", or what borg check found
    problem: str  # empty: fine

    @property
    def ok(self) -> bool:
        return not self.problem


def assess(host: str, answer: dict[str, Any], max_age_hours: int, now: dt.datetime) -> HostStatus:
    """A host's backup state as the team needs it: the newest archive, its age and borg's check, with the problem
    in words when there is one."""
    last = _archive(answer["last"]) if answer.get("last") else None
    age = now - last.time if last else None
    check = str(answer.get("check", ""))
    if last is None or age is None:
        problem = "no archive yet"
    elif age > dt.timedelta(hours=max_age_hours):
        problem = f"the newest archive is {age.total_seconds() / 3600:.0f} h old (more than {max_age_hours} h)"
    elif check != "ok":
        problem = f"borg check failed: {check}"
    else:
        problem = ""
    return HostStatus(host, last, age, check, problem)


def status(topology: Topology, host: str, now: dt.datetime | None = None) -> HostStatus:
    """The newest archive of ``host`` and `borg check` of its repository and that archive; a target that cannot
    be reached is a problem of that host, not an exception (status reports every host)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        answer = _answer(topology, host, "status", "the backup status", 3600)
    except Egov6Error as exc:
        return HostStatus(host, None, None, "not run", str(exc))
    return assess(host, answer, topology.config.backup.max_age_hours, now)


def export_key(topology: Topology, host: str) -> str:
    """The repository key of ``host`` (borg's key file, still protected by the passphrase)."""
    key = checked(topology.stack, host, f"sudo -n {CLIENT} export-key", "the key export", 120)
    if not key.startswith("BORG_KEY "):
        raise Egov6Error(f"{host}: the key export gave no borg key")
    return key


# --- upkeep from the controller (the maintenance key: not append-only) ----------------------------------------


def _maintenance(topology: Topology, host: str) -> dict[str, str]:
    """borg's environment on the controller for ``host``'s repository: the stack's ssh config (the backup host's
    pinned key) with the maintenance key, the passphrase read by borg from the stack's secrets folder."""
    local = local_dir(topology.stack)
    key = local / MAINTENANCE_KEY
    if not key.is_file():
        raise Egov6Error(f"no backup maintenance key for stack {topology.stack}: run `egov6 inventory "
                         f"{topology.stack}` (or `egov6 lab up` for the lab) first")  # fmt: skip
    server = topology.by_role("backup")[0]
    rsh = ["ssh", "-F", str(local / "ssh_config"), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
           "-o", "ControlMaster=no", "-o", "ControlPath=none"]  # fmt: skip
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "BORG_BASE_DIR": str(local / "borg"),
        "BORG_REPO": f"ssh://borg@{server.name}{backup_repository_root(topology)}/{host}",
        "BORG_RSH": shlex.join(rsh),
        "BORG_PASSCOMMAND": shlex.join(["cat", str(local / "secrets" / f"borg-{host}")]),
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no",
    }


@dataclass(frozen=True)
class Pruned:
    host: str
    kept: int
    pruned: int


# borg check of a damaged repository logs a line per object it cannot find again (warnings, thousands); the borg
# client stops reading its ssh's stderr once the answer is in and then waits for ssh, which waits for room in
# that full pipe: it never ends. Errors only keep what says what is wrong (borg passes the level to `borg serve`).
QUIET_CHECK = ("--error",)


def _borg(
    topology: Topology, host: str, args: list[str], what: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """One borg command on ``host``'s repository with the maintenance key; never waits for input (no terminal, no
    question), never longer than ``timeout``."""
    try:
        return subprocess.run(["borg", *args], env=_maintenance(topology, host), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise Egov6Error(f"{host}: {what} did not finish within {timeout:.0f} s") from None


def _said(stderr: str) -> str:
    """What borg reported, in a few lines: its own errors first (the server's lines carry "Remote: ")."""
    lines = [line.removeprefix("Remote: ").strip() for line in stderr.splitlines()]
    errors = [line for line in lines if re.search(r"error|mismatch|damaged|missing|failed", line, re.IGNORECASE)]
    chosen = [line for line in (errors or lines) if line and not line.startswith("ID: ")]
    return "; ".join(dict.fromkeys(chosen[:3]))[:500]


def prune(topology: Topology, host: str, timeout: float = 6 * 3600) -> Pruned:
    """Applies the stack's retention to ``host``'s repository (borg prune, then compact to free the space)."""
    keep = topology.config.backup.retention
    command = ["prune", "--list", f"--glob-archives={host}-*", f"--keep-daily={keep.daily}",
               f"--keep-weekly={keep.weekly}", f"--keep-monthly={keep.monthly}"]  # fmt: skip
    done = _borg(topology, host, command, "borg prune", timeout)
    if done.returncode != 0:
        raise Egov6Error(f"{host}: borg prune failed: {_said(done.stderr)}")
    compacted = _borg(topology, host, ["compact"], "borg compact", timeout)
    if compacted.returncode != 0:
        raise Egov6Error(f"{host}: borg compact failed: {_said(compacted.stderr)}")
    kept = len(re.findall(r"^Keeping archive", done.stderr, re.MULTILINE))
    pruned = len(re.findall(r"^Pruning archive", done.stderr, re.MULTILINE))
    return Pruned(host, kept, pruned)


def check(topology: Topology, host: str, archive: str, timeout: float = 6 * 3600) -> None:
    """borg check of ``host``'s repository and of ``archive`` (from the controller): damage stops what needs it."""
    done = _borg(topology, host, ["check", *QUIET_CHECK, f"--glob-archives={archive}"], "borg check", timeout)
    if done.returncode != 0:
        raise Egov6Error(f"borg check found damage in {host}'s repository ({_said(done.stderr)}): nothing was "
                         "restored; repair it (`borg check --repair` with the maintenance key) or use another "
                         "archive")  # fmt: skip


def stream_archive(
    topology: Topology, host: str, archive: str, target_stack: str, target: str, timeout: float = 6 * 3600
) -> None:
    """``archive`` of ``host``, unpacked at / on ``target`` (a host of ``target_stack``'s ssh config): borg
    export-tar on the controller (the maintenance key) into tar on the target, nothing stored in between."""
    target_config = local_dir(target_stack) / "ssh_config"
    exporter = subprocess.Popen(["borg", "export-tar", f"::{archive}", "-"], env=_maintenance(topology, host),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert exporter.stdout is not None and exporter.stderr is not None
    try:
        taken = subprocess.run(["ssh", "-F", str(target_config), target, "sudo -n tar -x -p --numeric-owner -C /"],
                               stdin=exporter.stdout, capture_output=True, timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        exporter.kill()
        raise Egov6Error(f"{target}: unpacking {archive} did not finish within {timeout:.0f} s") from None
    finally:
        exporter.stdout.close()
        exporter.wait()
    if exporter.returncode != 0:
        raise Egov6Error(f"borg export-tar of {archive} failed: {_said(exporter.stderr.read().decode())}")
    if taken.returncode != 0:
        raise Egov6Error(f"{target}: unpacking {archive} failed: {taken.stderr.decode()[-400:]}")


# --- a club's files back ---------------------------------------------------------------------------------------

OCC = "/usr/local/bin/egov6-occ"  # the nextcloud role installs it


@dataclass(frozen=True)
class PutBack:
    archive: str
    restored: list[str]
    kept: list[str]  # exist now: left as they are


def club_path(path: str) -> PurePosixPath:
    """A path inside a club's folder as the club names it ("Protokolle/2025"); refuses what would leave it."""
    relative = PurePosixPath(path.strip())
    if relative.is_absolute() or ".." in relative.parts or any(p.startswith("-") for p in relative.parts):
        raise Egov6Error(f"--path {path!r}: a path inside the club's folder, without '..' (such as Protokolle/2025)")
    return relative


def restore_club_files(
    topology: Topology, registry: ClubRegistry, slug: str, path: str, archive: str | None
) -> PutBack:
    """Puts a club's lost files (all, or those under ``path`` of its folder) back from the cloud host's archive
    (the newest unless named), into the club's folder: only what is missing now, nothing of another club."""
    club = next((c for c in registry.clubs if c.slug == slug), None)
    if club is None:
        raise Egov6Error(f"club {slug} is not in the registry of stack {topology.stack}")
    relative = club_path(path)
    host = cloud_host(topology)
    if archive is None:
        made = archives(topology, host)
        if not made:
            raise Egov6Error(f"{host} has no archive yet")
        archive = made[-1].name
    data = nextcloud_data_dir(topology)
    inside = PurePosixPath(club.name) / relative  # the club's folder carries the club's name (egov6-clubs.php)
    account = f"club-{slug}"
    paths = [f"{data}/{account}/files/{inside}", f"{data}/{account}/files_encryption/keys/files/{inside}"]
    done = on_host(topology.stack, host, f"sudo -n {CLIENT} put-back {shlex.join([archive, *paths])}",
                   "putting the files back", 3600)  # fmt: skip
    if done.returncode == 3:
        raise Egov6Error(f"{archive} holds nothing at {inside} of club {slug}")
    if done.returncode != 0:
        raise Egov6Error(f"{host}: putting the files back failed: {(done.stderr or done.stdout).strip()[-300:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    files = f"--path={account}/files/{inside}"
    steps = [[OCC, "files:scan", files]]
    if topology.config.encryption.at_rest == "server_side":
        # the files come back with their keys; Nextcloud's record of their encrypted version is set anew
        steps.append([OCC, "encryption:fix-encrypted-version", account, f"--path=/{inside}"])
    for command in steps:
        ran = on_host(topology.stack, host, f"sudo -n {shlex.join(command)}", command[1], 3600)
        if ran.returncode != 0:
            raise Egov6Error(f"{host}: {command[1]} after the restore failed: {ran.stdout.strip()[-300:]}")
    restored = [r for r in answer["restored"] if "/files_encryption/" not in r]
    kept = [k for k in answer["kept"] if "/files_encryption/" not in k]
    return PutBack(archive, restored, kept)
