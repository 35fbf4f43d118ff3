"""One lab host: a root unpacked from the base image, booted with systemd-nspawn on the lab bridge.

The controller is not booted by systemd, so each host gets its cgroups made by hand (lab-notes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from egov6.errors import Egov6Error

CGROUP_ROOTS = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
CGROUP_PARENT = "egov6-lab"
REBOOT_STATUS = 133  # systemd-nspawn: the guest asked for a reboot
NOCLOUD_SEED = "var/lib/cloud/seed/nocloud"  # where cloud-init's NoCloud data source reads a host's seed


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    prefixlen: int
    gateway: str
    root: Path

    def cgroups(self) -> list[Path]:
        return [base / CGROUP_PARENT / self.name for base in CGROUP_ROOTS if base.is_dir()]


def prepare_root(host: LabHost, seed: dict[str, str], apt_proxy: str) -> None:
    """Writes what the provider supplies into the host's root: its network, its cloud-init seed (identity, the
    automation account, SSH host keys: the user-data a Hetzner server gets) and the lab's apt source."""
    root = host.root
    (root / "etc/hostname").write_text(host.name + "\n", encoding="utf-8")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {host.name}\n", encoding="utf-8")
    (root / "etc/machine-id").write_text("", encoding="utf-8")
    network = root / "etc/systemd/network/80-container-host0.network"
    network.parent.mkdir(parents=True, exist_ok=True)
    network.write_text(
        f"[Match]\nVirtualization=container\nName=host0\n\n[Network]\n"
        f"Address={host.address}/{host.prefixlen}\nGateway={host.gateway}\nLinkLocalAddressing=no\n",
        encoding="utf-8",
    )
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "systemd-networkd.service"
    if not link.exists():
        link.symlink_to("/lib/systemd/system/systemd-networkd.service")
    seed_dir = root / NOCLOUD_SEED
    seed_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, text in seed.items():
        path = seed_dir / name
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
    # Hosts have no DNS and no route out: apt goes through the cache on the bridge.
    (root / "etc/apt/apt.conf.d/01egov6-lab-proxy").write_text(
        f'Acquire::http::Proxy "{apt_proxy}";\n', encoding="utf-8"
    )


def _join_cgroups(paths: list[Path]) -> None:
    for path in paths:
        (path / "cgroup.procs").write_text(str(os.getpid()), encoding="utf-8")


def start(host: LabHost, bridge: str, log: Path, devices: Sequence[str] = ()) -> int:
    """Boots the host in the background; returns the pid of its systemd-nspawn. ``devices``: its volumes'
    ``--bind=`` arguments (loop devices at their cloud paths)."""
    cgroups = host.cgroups()
    for path in cgroups:
        path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
    args = [
        "systemd-nspawn", "-q", "-D", str(host.root), "-M", host.name, "-b",
        f"--network-bridge={bridge}", "--register=no", "--keep-unit", "--console=read-only",
        "--link-journal=no", *devices,
    ]  # fmt: skip
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: _join_cgroups(cgroups),  # noqa: PLW1509 cgroup membership must precede exec
    )
    return process.pid


def wait_for_ssh(host: LabHost, pid: int, host_keys: tuple[str, ...], timeout: float = 90) -> None:
    """Waits until the host's sshd offers the host key cloud-init installed from the seed (its pinned key)."""
    pinned = {" ".join(key.split()[:2]) for key in host_keys}
    deadline = time.monotonic() + timeout
    offered: set[str] = set()
    while time.monotonic() < deadline:
        if not alive(pid):
            raise Egov6Error(f"lab host {host.name} stopped while booting")
        with contextlib.suppress(OSError), socket.create_connection((host.address, 22), timeout=1) as sock:
            if sock.recv(64).startswith(b"SSH-"):
                scan = subprocess.run(
                    ["ssh-keyscan", "-T", "2", "-t", "ed25519,rsa", host.address],
                    capture_output=True, text=True, check=False, timeout=10,
                )  # fmt: skip
                offered = {" ".join(line.split()[1:3]) for line in scan.stdout.splitlines() if line.strip()}
                if offered & pinned:
                    return
        time.sleep(0.3)
    detail = f"it offers other host keys ({', '.join(sorted(offered))})" if offered else "no SSH host key seen"
    raise Egov6Error(
        f"lab host {host.name} ({host.address}) did not offer its pinned host key within {timeout:.0f} s: "
        f"{detail}; its console log is in the lab's state folder"
    )


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is not alive: reap it if it is our child.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text(encoding="utf-8").split()[2] != "Z"


def stop(host: LabHost, pid: int | None, timeout: float = 20) -> None:
    """SIGTERM to nspawn (a clean guest shutdown), SIGKILL after the timeout, then remove the cgroups."""
    if alive(pid):
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
    for path in host.cgroups():
        _remove_cgroup(path)


def _remove_cgroup(path: Path) -> None:
    if not path.is_dir():
        return
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        _kill_members(child)
        with contextlib.suppress(OSError):
            child.rmdir()
    _kill_members(path)
    with contextlib.suppress(OSError):
        path.rmdir()


def _kill_members(path: Path) -> None:
    procs = path / "cgroup.procs"
    with contextlib.suppress(OSError):
        for line in procs.read_text(encoding="utf-8").split():
            with contextlib.suppress(OSError):
                os.kill(int(line), signal.SIGKILL)
        time.sleep(0.1)


def remove_cgroup_parents() -> None:
    """The shared parent cgroup goes once no lab host (of any stack) is left in it."""
    for base in CGROUP_ROOTS:
        with contextlib.suppress(OSError):
            (base / CGROUP_PARENT).rmdir()


def remove_root(host: LabHost) -> None:
    shutil.rmtree(host.root, ignore_errors=True)
