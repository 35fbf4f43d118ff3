"""The offline vendor folder: upstream archives that no package registry carries (lab and CI only).

Its place is a setting (``EGOV6_VENDOR_DIR``), by default ``../shared/vendor`` beside the checkout; the checksum
of each archive comes from the folder's own ``SHA256SUMS``.
"""

from __future__ import annotations

import os
from pathlib import Path

from egov6.config.loader import repo_root
from egov6.errors import Egov6Error


def vendor_dir() -> Path:
    configured = os.environ.get("EGOV6_VENDOR_DIR")
    return Path(configured) if configured else repo_root().parent / "shared" / "vendor"


def cache_dir() -> Path:
    """The controller's cache kept across labs and stacks: the lab base image, builds from release archives."""
    return Path(os.environ.get("EGOV6_CACHE_DIR", "/var/cache/egov6"))


def vendored(name: str) -> tuple[Path, str]:
    """The archive's path and its sha256 from SHA256SUMS; a clear error if either is missing."""
    folder = vendor_dir()
    path = folder / name
    if not path.is_file():
        raise Egov6Error(f"vendor archive {name} not found in {folder} (set EGOV6_VENDOR_DIR)")
    sums = folder / "SHA256SUMS"
    for line in sums.read_text(encoding="utf-8").splitlines() if sums.is_file() else []:
        digest, _, filename = line.strip().partition("  ")
        if filename == name:
            return path, digest
    raise Egov6Error(f"{name} has no checksum in {sums}")
