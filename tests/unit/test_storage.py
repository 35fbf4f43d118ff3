"""The storage role's decisions (`library/egov6_volume.py`'s `plan`): an empty volume is formatted (LUKS2 first
when declared, with the exact cryptsetup options), egov6's own volume is left as it is, anything else is refused
with nothing written; and the inventory hands each host its volumes at Hetzner's device paths."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from egov6.inventory import Connection, read_inventory_file, write_inventory
from egov6.orchestrate import Stack
from egov6.topology import volume_device

LIBRARY = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "storage" / "library" / "egov6_volume.py"
DEVICE = "/dev/disk/by-id/scsi-0HC_Volume_101"
KEY = "/etc/egov6/luks/egov6-cloud1-data.key"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("egov6_volume", LIBRARY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


volume = _module()


def test_an_empty_volume_gets_egovs_filesystem() -> None:
    plan = volume.plan({}, None, DEVICE, "egov6-data", "ext4", "none")
    assert plan.commands == [["mkfs.ext4", "-q", "-L", "egov6-data", "-m", "1", "-E",
                              "lazy_itable_init=1,lazy_journal_init=1", DEVICE]]  # fmt: skip
    assert plan.filesystem_device == DEVICE


def test_egovs_own_filesystem_is_never_formatted_again() -> None:
    found = {"TYPE": "ext4", "LABEL": "egov6-data", "UUID": "6f1c"}
    assert volume.plan(found, None, DEVICE, "egov6-data", "ext4", "none").commands == []


@pytest.mark.parametrize(
    ("found", "named"),
    [
        ({"TYPE": "ext4", "UUID": "1"}, "ext4"),  # Hetzner's own pre-format, or another server's volume
        ({"TYPE": "ext4", "LABEL": "egov6-db", "UUID": "1"}, "'egov6-db'"),  # the database volume at the data path
        ({"TYPE": "xfs", "LABEL": "egov6-data", "UUID": "1"}, "xfs"),
        ({"PTTYPE": "gpt"}, "gpt partition table"),
        ({"TYPE": "crypto_LUKS", "LABEL": "egov6-data", "UUID": "1"}, "LUKS-encrypted"),  # LUKS not declared
    ],
)
def test_a_volume_with_foreign_data_is_refused_and_nothing_is_written(found: dict[str, str], named: str) -> None:
    with pytest.raises(volume.Foreign, match="nothing mounted") as refused:
        volume.plan(found, None, DEVICE, "egov6-data", "ext4", "none")
    assert DEVICE in str(refused.value) and named in str(refused.value)


def test_luks_formats_luks2_opens_and_formats_inside() -> None:
    plan = volume.plan({}, None, DEVICE, "egov6-data", "ext4", "luks", KEY, "egov6-cloud1-data")
    assert plan.commands == [
        ["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64", "--key-size",
         "512", "--hash", "sha256", "--pbkdf", "argon2id", "--label", "egov6-data", "--key-file", KEY, DEVICE],
        ["cryptsetup", "open", "--type", "luks2", "--key-file", KEY, "--allow-discards", DEVICE, "egov6-cloud1-data"],
        ["mkfs.ext4", "-q", "-L", "egov6-data", "-m", "1", "-E", "lazy_itable_init=1,lazy_journal_init=1",
         "/dev/mapper/egov6-cloud1-data"],
    ]  # fmt: skip
    assert plan.filesystem_device == "/dev/mapper/egov6-cloud1-data"
    # the key is a file, never an argument: nothing secret shows in `ps` or in the task's result
    assert all("--key-file" in c for c in plan.commands[:2])


def test_an_open_luks_volume_with_its_filesystem_needs_nothing() -> None:
    found = {"TYPE": "crypto_LUKS", "LABEL": "egov6-data", "UUID": "a1"}
    inner = {"TYPE": "ext4", "LABEL": "egov6-data", "UUID": "b2"}
    assert volume.plan(found, inner, DEVICE, "egov6-data", "ext4", "luks", KEY, "m").commands == []


def test_a_closed_luks_volume_is_opened_not_formatted() -> None:
    found = {"TYPE": "crypto_LUKS", "LABEL": "egov6-data", "UUID": "a1"}
    plan = volume.plan(found, None, DEVICE, "egov6-data", "ext4", "luks", KEY, "m")
    # what is inside is looked at only once it is open (the module plans again then)
    assert [c[:2] for c in plan.commands] == [["cryptsetup", "open"]] and plan.reprobe


def test_declared_luks_refuses_a_plain_filesystem() -> None:
    with pytest.raises(volume.Foreign, match="not egov6's LUKS container"):
        volume.plan({"TYPE": "ext4", "LABEL": "egov6-data"}, None, DEVICE, "egov6-data", "ext4", "luks", KEY, "m")


def test_each_host_gets_its_declared_volumes_at_hetzners_device_paths(tmp_path: Path) -> None:
    topology = Stack.load("production").topology
    ids = {h.name: {v.purpose: str(100 + i) for i, v in enumerate(h.volumes)} for h in topology.hosts}
    folder = write_inventory(topology, {h.name: h.private_ip for h in topology.hosts},
                             Connection(user="egov6", local_dir=tmp_path / "local"), tmp_path / "inv", ids)  # fmt: skip
    for host in topology.hosts:
        found = read_inventory_file(folder / "host_vars" / f"{host.name}.yml")
        assert [(v["device"], v["mount"], v["size_gb"]) for v in found["storage_volumes"]] == [
            (volume_device(ids[host.name][v.purpose]), v.mount, v.size_gb) for v in host.volumes
        ]
    group = read_inventory_file(folder / "group_vars" / "all" / "egov6.yml")
    assert group["storage_encryption"] == "luks"  # production declares LUKS volumes


def test_outputs_without_a_volume_id_are_refused(tmp_path: Path) -> None:
    topology = Stack.load("production").topology
    with pytest.raises(ValueError, match="no volume id for"):
        write_inventory(topology, {h.name: h.private_ip for h in topology.hosts},
                        Connection(user="egov6", local_dir=tmp_path / "local"), tmp_path / "inv", {})  # fmt: skip
