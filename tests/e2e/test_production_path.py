"""The lab proves the production path (marked `lab`): hosts bootstrapped by cloud-init from the same user-data a
Hetzner server gets, host keys pinned from the stack outputs, admins as a lifecycle, and a second admin's fresh
checkout that is handed only the outputs document converging without a single change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from egov6.cli.lab import converge_stack
from egov6.config.loader import repo_root, stack_path
from egov6.lab.keys import new_ssh_key
from egov6.lab.paths import LabPaths
from egov6.outputs import outputs_path, read_outputs
from egov6.vendor import vendor_dir

pytestmark = pytest.mark.lab
STACK = "lab"
HOSTS = ("egov6-lab-cloud1", "egov6-lab-flow1", "egov6-lab-backup1")


def _ssh(host: str, command: str, *options: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["ssh", "-F", str(LabPaths(STACK).ssh_config), *options, host, command]
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=60)


@pytest.mark.parametrize("host", HOSTS)
def test_cloud_init_bootstrapped_the_host_from_its_seed(host: str) -> None:
    status = _ssh(host, "cloud-init status --long", check=False)
    assert "status: done" in status.stdout, status.stdout + status.stderr
    result = json.loads(_ssh(host, "sudo cat /var/lib/cloud/data/result.json").stdout)
    assert result["v1"]["errors"] == [], result
    assert "NoCloud" in result["v1"]["datasource"]
    assert _ssh(host, "sudo cloud-init schema --system", check=False).returncode == 0, (
        "user-data off cloud-init's schema"
    )
    # the automation account cloud-init made: key only, sudo through cloud-init's rule
    assert _ssh(host, "sudo -n true").returncode == 0
    assert _ssh(host, "sudo passwd --status egov6").stdout.split()[1] == "L"


@pytest.mark.parametrize("host", HOSTS)
def test_the_host_keys_are_the_ones_the_outputs_pin(host: str) -> None:
    pinned = read_outputs(outputs_path(STACK)).host(host).host_keys
    offered = _ssh(host, "sudo cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_rsa_key.pub").stdout.splitlines()
    assert [" ".join(line.split()[:2]) for line in offered] == list(pinned)
    # and a key the outputs do not pin is refused: an impostor at the same address is never trusted
    impostor = LabPaths(STACK).local / "known_hosts.impostor"
    impostor.write_text(f"{host} {new_ssh_key('ed25519').public_key}\n", encoding="utf-8")
    try:
        refused = _ssh(host, "true", "-o", f"UserKnownHostsFile={impostor}", "-o", "ControlPath=none", check=False)
    finally:
        impostor.unlink()
    assert refused.returncode == 255 and "host key" in refused.stderr.lower(), refused.stderr


def _with_admin(tmp_path: Path, name: str, public_key: str) -> Path:
    document = yaml.safe_load(stack_path(STACK).read_text(encoding="utf-8"))
    document["config"]["egov6:admins"].append({"name": name, "ssh_key": public_key})
    path = tmp_path / f"Pulumi.{STACK}.yaml"  # the lab stack with one admin more
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_an_admin_removed_from_the_stack_loses_account_keys_and_sudo(tmp_path: Path) -> None:
    pair = new_ssh_key("ed25519", "exadmin@test")
    key = tmp_path / "exadmin_ed25519"
    key.write_text(pair.private_key, encoding="utf-8")
    key.chmod(0o600)
    login = ("-o", "ControlPath=none", "-i", str(key), "-o", "IdentitiesOnly=yes", "-l", "exadmin")
    try:
        converge_stack(str(_with_admin(tmp_path, "exadmin", pair.public_key)), tags="base-users")
        for host in HOSTS:
            assert _ssh(host, "sudo -n true && id -nG", *login).stdout.split() == ["exadmin", "egov6-admins"], host
    finally:
        converge_stack(STACK, tags="base-users")  # the stack as declared: exadmin is gone
    for host in HOSTS:
        assert _ssh(host, "getent passwd exadmin", check=False).returncode == 2, f"{host}: account left"
        assert _ssh(host, "test -e /home/exadmin", check=False).returncode == 1, f"{host}: home and keys left"
        assert "exadmin" not in _ssh(host, "getent group egov6-admins").stdout
        denied = _ssh(host, "true", *login, "-o", "BatchMode=yes", check=False)
        assert denied.returncode == 255 and "Permission denied" in denied.stderr, host


# A second admin on another machine: a fresh checkout (the files git knows, nothing of `.egov6/`), the vendor
# folder every checkout has beside it, and the outputs document handed over. Its converge runs its own code.
SECOND_ADMIN = """
import json, sys
from pathlib import Path
import egov6
from egov6.orchestrate import Stack, converge
assert Path(egov6.__file__).is_relative_to(Path.cwd()), egov6.__file__
result = converge(Stack.load("lab"), saved=Path(sys.argv[1]))
print(json.dumps({"changed": result.changed_tasks, "hosts": sorted(result.hosts), "failed": result.failures}))
"""


def _fresh_checkout(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo_root(), capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = repo_root() / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_a_second_admins_checkout_given_only_the_outputs_changes_nothing(tmp_path: Path) -> None:
    checkout, handed = tmp_path / "checkout", tmp_path / "outputs.json"
    _fresh_checkout(checkout)
    shutil.copy2(outputs_path(STACK), handed)
    assert not (checkout / ".egov6").exists()
    env = {**os.environ, "PYTHONPATH": str(checkout / "infra"), "EGOV6_VENDOR_DIR": str(vendor_dir())}
    run = subprocess.run(
        [sys.executable, "-c", SECOND_ADMIN, str(handed)],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["hosts"] == sorted(HOSTS) and result["failed"] == []
    assert result["changed"] == [], f"the second admin's converge changed: {result['changed']}"
    # the same secrets, from the outputs alone
    ours, theirs = LabPaths(STACK).local / "secrets", checkout / ".egov6" / STACK / "secrets"
    for path in theirs.iterdir():
        if (ours / path.name).is_file():
            assert path.read_bytes() == (ours / path.name).read_bytes(), path.name
