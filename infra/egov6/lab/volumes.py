"""The lab's stand-ins for cloud volumes: one sparse file of the declared size per volume, attached as a loop
device and handed into its host at the path Hetzner gives a volume (``/dev/disk/by-id/scsi-0HC_Volume_<id>``), so
that the storage role formats and mounts it with the same tasks as in production.

The files live in the lab's state folder; `lab down` detaches and removes them with it. A host restarted keeps
its volumes (the same file, the same loop device)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from egov6.lab.shell import run
from egov6.topology import Host, Volume, volume_device


def lab_volume_id(volume: Volume) -> str:
    """A stable number per volume name, shaped like Hetzner's volume ids (the outputs document carries it)."""
    return str(10_000_000 + int(hashlib.sha256(volume.name.encode()).hexdigest()[:12], 16) % 90_000_000)


def lab_volume_ids(host: Host) -> dict[str, str]:
    """The ids of ``host``'s volumes by purpose, as the outputs document carries them."""
    return {v.purpose: lab_volume_id(v) for v in host.volumes}


def _folder(state: Path) -> Path:
    return state / "volumes"


def volume_file(state: Path, volume: Volume) -> Path:
    return _folder(state) / f"{volume.name}.img"


def _loops(path: Path) -> list[str]:
    """The loop devices attached to the file ``path``."""
    return run(["losetup", "--list", "--noheadings", "--output", "NAME", "--associated", str(path)]).split()


def attach(state: Path, volume: Volume) -> str:
    """The loop device of ``volume``'s file, created sparse at the declared size the first time (never resized or
    rewritten after), attached once: a second call returns the device it already has."""
    path = volume_file(state, volume)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        with path.open("xb") as file:
            file.truncate(volume.size_gb * 1024**3)
        path.chmod(0o600)
    attached = _loops(path)
    if attached:
        return attached[0]
    # direct I/O: the loop device writes through to the disk like a volume, without a second copy of its data in
    # the lab machine's page cache (buffered, it wrote at a sixth of the root filesystem's speed: bench/storage.py)
    return run(["losetup", "--find", "--show", "--direct-io=on", str(path)]).strip()


def binds(state: Path, host: Host, ids: dict[str, str]) -> list[str]:
    """nspawn's ``--bind`` arguments that hand ``host``'s volumes in at their cloud device paths."""
    return [f"--bind={attach(state, v)}:{volume_device(ids[v.purpose])}" for v in host.volumes]


def detach(state: Path, host: str | None = None, remove: bool = False) -> None:
    """Detaches the loop devices of the lab's volume files (only ``host``'s when given), and removes the files
    with ``remove`` (a drill host's volumes go with it)."""
    folder = _folder(state)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"{host}-*.img" if host else "*.img")):
        for device in _loops(path):
            run(["losetup", "--detach", device], check=False)
        if remove:
            path.unlink(missing_ok=True)
