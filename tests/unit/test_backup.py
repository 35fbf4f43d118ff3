"""Backups from the controller's side: which hosts back up and to where (from the stack alone), their passphrases
in the secrets catalogue, and how `egov6 backup status` judges a host."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

from egov6 import backup
from egov6.config import load_stack
from egov6.errors import Egov6Error
from egov6.inventory import _backup_vars
from egov6.secrets import generated_secrets
from egov6.topology import build_topology

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
CLIENT_SCRIPT = Path(__file__).resolve().parents[2] / "playbooks/roles/backup/files/egov6-backup"


def test_the_lab_backs_its_service_hosts_up_to_its_backup_host() -> None:
    topology = build_topology(load_stack("lab"), "lab")
    server = topology.by_role("backup")[0]
    assert backup.clients(topology) == [h.name for h in topology.hosts if h.role in ("cloud", "flow")]
    found = _backup_vars(topology)
    assert found["backup_server"] == server.name and found["backup_server_address"] == server.private_ip
    assert found["backup_repository_root"] == found["borg_server_root"] == "/srv/data/borg"  # one value, two roles
    assert found["backup_schedule"] == topology.config.backup.schedule


def test_a_storage_box_target_is_not_pretended() -> None:
    topology = build_topology(load_stack("production"), "production")
    assert _backup_vars(topology) == {"backup_server": ""}
    with pytest.raises(Egov6Error, match="storage_box, which egov6 does not set up yet"):
        backup.clients(topology)


def test_a_host_that_does_not_back_up_is_named() -> None:
    topology = build_topology(load_stack("lab"), "lab")
    with pytest.raises(Egov6Error, match="egov6-lab-backup1 is not a host that backs up"):
        backup.clients(topology, "egov6-lab-backup1")


def test_each_service_host_gets_its_own_passphrase_and_the_backup_host_none() -> None:
    topology = build_topology(load_stack("lab"), "lab")
    names = {s.file: s.length for s in generated_secrets(topology)}
    for host in topology.hosts:
        assert (f"borg-{host.name}" in names) == (host.role in ("cloud", "flow"))
    assert all(length >= 48 for name, length in names.items() if name.startswith("borg-"))


def _answer(hours_ago: float, check: str = "ok") -> dict[str, object]:
    made = (NOW - dt.timedelta(hours=hours_ago)).astimezone(dt.timezone(dt.timedelta(hours=1)))
    return {"last": {"name": "egov6-lab-cloud1-x", "time": made.isoformat()}, "check": check}


def test_status_passes_a_fresh_checked_archive() -> None:
    state = backup.assess("cloud1", _answer(3), 26, NOW)
    assert state.ok and state.age == dt.timedelta(hours=3)  # the offset of the host's zone is taken into account


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"last": None, "check": "not run (no archive)"}, "no archive yet"),
        (_answer(27), "the newest archive is 27 h old (more than 26 h)"),
        (_answer(1, "Index object count mismatch"), "borg check failed: Index object count mismatch"),
    ],
)
def test_status_fails_an_old_missing_or_broken_backup(answer: dict[str, object], problem: str) -> None:
    state = backup.assess("cloud1", answer, 26, NOW)
    assert not state.ok and state.problem == problem


def test_an_archive_time_without_its_zone_is_refused() -> None:
    with pytest.raises(Egov6Error, match="without its zone"):
        backup.assess("cloud1", {"last": {"name": "a", "time": "2026-11-29T10:00:00"}, "check": "ok"}, 26, NOW)


def _client_script() -> object:
    loader = importlib.machinery.SourceFileLoader("egov6_backup_client", str(CLIENT_SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_borg_on_the_host_pins_the_target_and_never_asks() -> None:
    client = _client_script()
    folder = "/etc/egov6/backup"
    cfg = {"repository": "ssh://borg@10.0.0.5/srv/data/borg/h", "key": f"{folder}/id_ed25519",
           "known_hosts": f"{folder}/known_hosts", "passphrase_file": f"{folder}/passphrase"}  # fmt: skip
    env = client.borg_env(cfg)  # type: ignore[attr-defined]
    assert "StrictHostKeyChecking=yes" in env["BORG_RSH"] and "BatchMode=yes" in env["BORG_RSH"]
    assert "UserKnownHostsFile=/etc/egov6/backup/known_hosts" in env["BORG_RSH"]
    assert env["BORG_PASSCOMMAND"] == "cat /etc/egov6/backup/passphrase"  # the passphrase itself is in no variable
    assert "BORG_PASSPHRASE" not in env
    assert env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] == "no"


@pytest.mark.parametrize("path", ["/etc", "../gv-birstein", "Protokolle/../../x", "-rf"])
def test_a_club_path_cannot_leave_the_club_folder(path: str) -> None:
    with pytest.raises(Egov6Error, match="inside the club's folder"):
        backup.club_path(path)


def test_a_club_path_names_a_place_inside_the_folder() -> None:
    assert str(backup.club_path(" Protokolle/2026 ")) == "Protokolle/2026"
    assert str(backup.club_path("")) == "."


def test_the_drill_host_is_the_cloud_host_again_under_its_own_name_and_a_free_address() -> None:
    from egov6.drill import drill_topology

    topology = build_topology(load_stack("lab"), "lab")
    drill = drill_topology(topology, "cloud")
    (host,) = drill.hosts
    source = topology.by_role("cloud")[0]
    assert host.role == "cloud" and host.name == "egov6-lab-drill-cloud" and drill.stack == "lab-drill"
    assert host.private_ip not in {h.private_ip for h in topology.hosts} | {topology.gateway}
    assert drill.rules == {"cloud": topology.rules["cloud"]}
    # volumes like the source's, but its own: the drill never formats or mounts the live host's volumes
    assert [(v.purpose, v.size_gb, v.mount) for v in host.volumes] == [
        (v.purpose, v.size_gb, v.mount) for v in source.volumes
    ]
    assert not {v.name for v in host.volumes} & {v.name for v in source.volumes}
    # no backup host in the drill's inventory: the restored copy does not write into the stack's repositories
    assert _backup_vars(drill) == {"backup_server": ""}
