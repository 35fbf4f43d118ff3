"""Volumes (role storage): every declared volume is a filesystem of its own, of the declared size, mounted by
UUID at its declared path with data-volume options, and holds its service's data; the services that keep data
there start only with it mounted. Expected values come from the inventory (the stack file and its outputs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hosts.conftest import skip_if_unsupported

testinfra_hosts = ["cloud", "flow", "backup"]


@pytest.fixture
def volumes(inventory_vars: dict[str, Any]) -> list[dict[str, Any]]:
    declared = list(inventory_vars.get("storage_volumes", []))
    if not declared:
        pytest.skip("this host declares no volume")
    return declared


def _mount(host: Any, path: str) -> dict[str, str]:
    """findmnt's view of the filesystem that holds ``path``."""
    found = json.loads(host.check_output(f"findmnt --json --bytes -o TARGET,SOURCE,FSTYPE,SIZE,OPTIONS,LABEL,UUID "
                                         f"--target {path}"))  # fmt: skip
    return {k: str(v) for k, v in found["filesystems"][0].items()}


def test_each_volume_is_a_filesystem_of_its_own_of_the_declared_size(host: Any, volumes: list[dict[str, Any]]) -> None:
    root = _mount(host, "/")
    with host.sudo():
        for volume in volumes:
            mounted = _mount(host, volume["mount"])
            assert mounted["target"] == volume["mount"], f"{volume['name']} is not mounted at {volume['mount']}"
            assert mounted["source"] != root["source"]
            assert mounted["label"] == f"egov6-{volume['purpose']}"
            declared = int(volume["size_gb"]) * 1024**3
            # the filesystem's own bookkeeping (journal, inode tables) takes a few per cent of the device
            assert 0.9 * declared <= int(mounted["size"]) <= declared, (volume["name"], mounted["size"])
            options = mounted["options"].split(",")
            assert {"nodev", "nosuid", "noexec", "noatime"} <= set(options), options


def test_each_volume_is_mounted_by_uuid_at_every_boot(host: Any, volumes: list[dict[str, Any]]) -> None:
    with host.sudo():
        for volume in volumes:
            uuid = _mount(host, volume["mount"])["uuid"]
            unit = host.check_output(f"systemd-escape --path --suffix=mount {volume['mount']}")
            shown = dict(line.split("=", 1) for line in host.check_output(
                f"systemctl show {unit} -p FragmentPath -p UnitFileState -p ActiveState").splitlines())  # fmt: skip
            assert shown["FragmentPath"] == f"/etc/systemd/system/{unit}"
            declared = host.file(shown["FragmentPath"]).content_string.splitlines()
            assert f"What=/dev/disk/by-uuid/{uuid}" in declared
            assert shown["ActiveState"] == "active" and shown["UnitFileState"] == "enabled"
            # wanted, not required, at boot: the host stays reachable without it; its services do not start
            assert unit in host.check_output("systemctl show local-fs.target -p Wants --value").split()


def test_the_services_data_lives_on_its_volume(
    host: Any, volumes: list[dict[str, Any]], inventory_vars: dict[str, Any]
) -> None:
    on = {v["purpose"]: v["mount"] for v in volumes}
    expected = {
        "postgresql_data_dir": on.get("db"),
        "nextcloud_data_dir": on.get("data"),
        "borg_server_root": on.get("data"),
    }
    checked = 0
    with host.sudo():
        for variable, mount in expected.items():
            path = inventory_vars.get(variable)
            group_runs_it = {"nextcloud_data_dir": "cloud", "borg_server_root": "backup"}.get(variable)
            if not path or mount is None or (group_runs_it and group_runs_it not in inventory_vars["group_names"]):
                continue
            assert host.file(path).is_directory, path
            assert _mount(host, path)["target"] == mount, f"{variable} {path} is not on the volume at {mount}"
            checked += 1
    assert checked, "no service keeps its data on this host's volumes"


def test_services_start_only_with_their_volume_mounted(
    host: Any, volumes: list[dict[str, Any]], inventory_vars: dict[str, Any]
) -> None:
    units = {
        "postgresql_data_dir": f"postgresql@{inventory_vars.get('postgresql_version', '15')}-main.service",
        "nextcloud_data_dir": f"php{inventory_vars.get('php_version', '8.2')}-fpm.service",
    }
    mounts = {v["mount"] for v in volumes}
    checked = 0
    for variable, unit in units.items():
        path = inventory_vars.get(variable)
        if not path or not host.service(unit.removesuffix(".service")).is_enabled:
            continue
        needed = host.check_output(f"systemctl show {unit} --property=RequiresMountsFor --value").split()
        assert path in needed, f"{unit} does not require {path} mounted"
        requires = host.check_output(f"systemctl show {unit} --property=Requires --value").split()
        wanted = [m for m in mounts if path.startswith(m + "/")]
        for mount in wanted:
            unit_name = host.check_output(f"systemd-escape --path --suffix=mount {mount}")
            assert unit_name in requires, f"{unit} does not require {unit_name}"
        checked += 1
    if not checked:
        pytest.skip("no database or Nextcloud on this host")


def test_declared_luks_volumes_are_encrypted(
    host: Any, volumes: list[dict[str, Any]], inventory_vars: dict[str, Any], lab_skips: dict[str, str]
) -> None:
    if inventory_vars.get("storage_encryption") != "luks":
        pytest.skip("the stack encrypts with Nextcloud's server-side encryption, not with LUKS volumes")
    skip_if_unsupported(lab_skips, "luks")
    with host.sudo():
        for volume in volumes:
            assert host.check_output(f"blkid -p -o value -s TYPE {volume['device']}") == "crypto_LUKS"
            key = host.file(f"/etc/egov6/luks/{volume['name']}.key")
            assert key.user == "root" and key.mode == 0o400
            assert _mount(host, volume["mount"])["source"] == f"/dev/mapper/egov6-{volume['name']}"
