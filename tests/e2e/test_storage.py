"""Volumes on the lab (marked `lab`): a restarted host comes back with its volumes mounted, its services up and
its members' files in place; a volume that holds a filesystem egov6 did not make stops the converge, naming the
device, and nothing on it is formatted or mounted over."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

import pytest

from egov6.cli.lab import converge_stack, lab_up
from egov6.errors import Egov6Error
from egov6.inventory import inventory_dir, read_inventory_file
from egov6.lab.backend import LabBackend
from egov6.lab.paths import LabPaths
from egov6.orchestrate import Stack
from tests.e2e.cloud_client import Cloud
from tests.e2e.lab_service import as_root

pytestmark = pytest.mark.lab
STACK = "lab"


def _volumes(host: str) -> list[dict[str, Any]]:
    return list(read_inventory_file(inventory_dir(STACK) / "host_vars" / f"{host}.yml")["storage_volumes"])


def _root(host: str, command: str) -> str:
    done = as_root(LabPaths(STACK).ssh_config, host, command)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout.strip()


def test_a_restarted_cloud_host_comes_back_with_its_volumes_services_and_files() -> None:
    topology = Stack.load(STACK).topology
    host = topology.by_role("cloud")[0].name
    cloud = Cloud.of_lab(STACK)
    member = cloud.user(f"kassierer-{secrets.token_hex(3)}", secrets.token_urlsafe(18))
    content = os.urandom(200_000)
    assert member.request("PUT", member.files("Kassenbuch.bin"), body=content).status in (201, 204)
    try:
        LabBackend(topology).stop_host(host)
        lab_up(STACK)  # starts the stopped host again, its volumes handed in as before
        for volume in _volumes(host):
            assert _root(host, f"findmnt -n -o TARGET --mountpoint {volume['mount']}") == volume["mount"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = as_root(LabPaths(STACK).ssh_config, host, "systemctl is-active postgresql@15-main php8.2-fpm nginx")
            if state.stdout.split() == ["active"] * 3:  # (is-active's exit code is 0 once any one is)
                break
            time.sleep(2)
        assert state.stdout.split() == ["active"] * 3, state.stdout
        answer = member.request("GET", member.files("Kassenbuch.bin"))
        assert answer.status == 200 and answer.data == content
    finally:
        cloud.occ("user:delete", member.name)


def test_a_volume_holding_a_filesystem_egov_did_not_make_stops_the_converge() -> None:
    host = Stack.load(STACK).topology.by_role("flow")[0].name
    (volume,) = (v for v in _volumes(host) if v["purpose"] == "db")
    count = f"find {volume['mount']} -xdev | wc -l"
    before = _root(host, count)
    # an admin attached the wrong volume: same filesystem type, another label (another server's volume, say)
    _root(host, f"e2label {volume['device']} other-server")
    try:
        with pytest.raises(Egov6Error) as stopped:
            converge_stack(STACK, limit=host, tags="storage")
        assert volume["device"] in str(stopped.value) and "which egov6 did not make" in str(stopped.value)
        assert "'other-server'" in str(stopped.value)
        assert _root(host, count) == before  # nothing formatted, nothing written
    finally:
        _root(host, f"e2label {volume['device']} egov6-{volume['purpose']}")
    converge_stack(STACK, limit=host, tags="storage")
