"""The cached Debian 12 base image: debootstrap once (~50 s), then unpack per host (~1 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

from egov6.lab.shell import run

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
# What a host needs to boot, be reached over SSH and be managed by Ansible.
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "openssh-server", "python3", "python3-apt", "dbus", "iproute2", "sudo",
    "ca-certificates",
)  # fmt: skip


def ensure_image(image: Path, progress: object = None) -> bool:
    """Builds the base image if it is missing; returns True when it was built (cold)."""
    if image.is_file():
        return False
    image.parent.mkdir(parents=True, exist_ok=True)
    build = image.parent / f"{image.name}.build"
    partial = image.with_suffix(".partial")
    shutil.rmtree(build, ignore_errors=True)
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                str(build),
                MIRROR,
            ]
        )
        # Per-host identity is created at first boot: no machine-id, no ssh host keys in the image.
        (build / "etc/machine-id").write_text("", encoding="utf-8")
        for key in (build / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        for leftover in (build / "var/cache/apt/archives").glob("*.deb"):
            leftover.unlink()
        run(["tar", "--zstd", "-C", str(build), "--numeric-owner", "-cpf", str(partial), "."])
        partial.rename(image)
    finally:
        shutil.rmtree(build, ignore_errors=True)
        partial.unlink(missing_ok=True)
    return True


def unpack(image: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    run(["tar", "--zstd", "-C", str(root), "--numeric-owner", "-xpf", str(image)])
