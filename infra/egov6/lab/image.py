"""The cached Debian 12 base image: debootstrap once (~50 s), then unpack per host (~1 s)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from egov6.lab.shell import run

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
# What a host needs to boot, be reached over SSH and be managed by Ansible.
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "openssh-server", "python3", "python3-apt", "dbus", "iproute2", "sudo",
    # What a Hetzner Debian image carries and cloud-init relies on: cloud-init itself, locales (its locale module).
    "ca-certificates", "cloud-init", "locales",
    "python3-cffi-backend",  # provides a virtual package cloud-init needs, which debootstrap does not resolve
)  # fmt: skip
# The provider's side of cloud-init, as Hetzner's images carry their own: the lab's data source is the NoCloud seed
# each host gets in its root; the network is the lab's (systemd-networkd on the bridge), not cloud-init's.
CLOUD_CFG = """# egov6 lab: the provider's cloud-init settings (the user-data is the stack's, as on Hetzner)
datasource_list: [NoCloud, None]
network: {config: disabled}
"""
# The image's name changes with what goes into it, so a changed package list never reuses an old image.
IMAGE_ID = hashlib.sha256(repr((SUITE, BASE_PACKAGES, CLOUD_CFG)).encode()).hexdigest()[:8]


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
        (build / "etc/cloud/cloud.cfg.d/90-egov6-lab.cfg").write_text(CLOUD_CFG, encoding="utf-8")
        for leftover in (build / "var/cache/apt/archives").glob("*.deb"):
            leftover.unlink()
        run(["tar", "--zstd", "-C", str(build), "--numeric-owner", "-cpf", str(partial), "."])
        partial.rename(image)
        for stale in image.parent.glob("debian-12-base*.tar.zst"):  # images of earlier package lists
            if stale != image:
                stale.unlink()
    finally:
        shutil.rmtree(build, ignore_errors=True)
        partial.unlink(missing_ok=True)
    return True


def unpack(image: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    run(["tar", "--zstd", "-C", str(root), "--numeric-owner", "-xpf", str(image)])
