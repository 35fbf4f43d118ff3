"""Where the lab keeps its state; overridable so that two labs on one machine never share a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from egov6.lab.image import IMAGE_ID
from egov6.outputs import local_dir
from egov6.vendor import cache_dir


@dataclass(frozen=True)
class LabPaths:
    stack: str

    @property
    def state(self) -> Path:
        """Host roots, the apt cache's runtime files, the state file."""
        return Path(os.environ.get("EGOV6_LAB_DIR", "/var/lib/egov6")) / self.stack

    @property
    def cache(self) -> Path:
        """The base image and the downloaded packages, kept across labs."""
        return cache_dir()

    @property
    def image(self) -> Path:
        return self.cache / f"debian-12-base-{IMAGE_ID}.tar.zst"

    @property
    def hosts(self) -> Path:
        return self.state / "hosts"

    @property
    def state_file(self) -> Path:
        return self.state / "lab.json"

    @property
    def host_keys(self) -> Path:
        """The hosts' private SSH host keys (what Pulumi keeps in its state for a cloud stack)."""
        return self.state / "host-keys.json"

    @property
    def local(self) -> Path:
        return local_dir(self.stack)

    @property
    def drill_local(self) -> Path:
        """The restore drill's own files beside the lab's (inventory, ssh config): those of its stack name."""
        return local_dir(drill_stack(self.stack))

    @property
    def ssh_config(self) -> Path:
        return self.local / "ssh_config"


def drill_stack(stack: str) -> str:
    """The name the restore drill's fresh host goes by as a stack of its own (its local files, its connections)."""
    return f"{stack}-drill"
