"""Where the lab keeps its state; overridable so that two labs on one machine never share a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from egov6.config.loader import repo_root
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
        return self.cache / "debian-12-base.tar.zst"

    @property
    def hosts(self) -> Path:
        return self.state / "hosts"

    @property
    def state_file(self) -> Path:
        return self.state / "lab.json"

    @property
    def local(self) -> Path:
        """Files of the checkout that are never committed: the lab key, ssh config, runner artifacts."""
        return repo_root() / ".egov6" / self.stack

    @property
    def key(self) -> Path:
        return self.local / "lab_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.local / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.local / "known_hosts"
