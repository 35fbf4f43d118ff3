"""What the e2e clients share: a lab service's host and settings from the generated inventory, and an HTTPS
pool to the host's address under the service's name (SNI and certificate check against the roots
the lab's ACME server issued under)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import urllib3

from egov6.inventory import inventory_dir
from egov6.inventory import read_inventory_file as _read


def first_host(stack: str, role: str) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The role's first host: its name, its host vars, the role's group vars and the common group vars."""
    folder = inventory_dir(stack)
    hosts = _read(folder / "hosts.yml")
    name, host_vars = next(iter(hosts["all"]["children"][role]["hosts"].items()))
    group = _read(folder / "group_vars" / role / "egov6.yml")
    common = _read(folder / "group_vars" / "all" / "egov6.yml")
    return name, dict(host_vars), group, common


def https_pool(address: str, domain: str, ca: Path, read_timeout: float) -> urllib3.HTTPSConnectionPool:
    return urllib3.HTTPSConnectionPool(
        address, 443, server_hostname=domain, assert_hostname=domain,
        ca_certs=str(ca), cert_reqs="CERT_REQUIRED", maxsize=8, retries=False,
        timeout=urllib3.Timeout(connect=5, read=read_timeout),
    )  # fmt: skip


def as_root(ssh_config: Path, host: str, command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """One shell command as root on a lab host (through the pinned SSH config); the caller judges the result."""
    done = subprocess.run(["ssh", "-F", str(ssh_config), host, f"sudo sh -c {shlex.quote(command)}"],
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, check=False, timeout=900)  # fmt: skip
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))  # fmt: skip
