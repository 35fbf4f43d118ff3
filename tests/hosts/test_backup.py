"""Backups (roles backup and borg_server): each service host's own key may only append to its own encrypted
repository on the backup host, and a daily timer runs the backup. Expected values come from the inventory."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

testinfra_hosts = ["cloud", "flow", "backup"]


@pytest.fixture
def backup(inventory_vars: dict[str, Any]) -> dict[str, Any]:
    if not inventory_vars.get("backup_server"):
        pytest.skip("this stack has no backup host (a Storage Box target is not set up by the roles yet)")
    return inventory_vars


def clients(inventory_vars: dict[str, Any]) -> list[str]:
    groups = inventory_vars["groups"]
    return [*groups.get("cloud", []), *groups.get("flow", [])]


def test_each_client_key_may_only_append_to_its_own_repository(host: Any, backup: dict[str, Any]) -> None:
    if "backup" not in backup["group_names"]:
        pytest.skip("the backup host's check")
    keys = host.file("/var/lib/egov6-borg/.ssh/authorized_keys")
    assert keys.user == "root" and keys.mode == 0o644  # the borg account cannot change its own keys
    lines = [line for line in keys.content_string.splitlines() if line and not line.startswith("#")]
    root = backup["borg_server_root"]
    expected = [
        f'command="borg serve --append-only --restrict-to-repository {root}/{client}",restrict ssh-ed25519 '
        for client in clients(backup)
    ]
    if backup.get("borg_server_maintenance_key"):  # the controller's upkeep: prune and compact, not append-only
        expected.append(f'command="borg serve --restrict-to-path {root}",restrict ssh-ed25519 ')
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), line
    account = host.user("borg")
    assert account.shell == "/bin/sh" and account.password in ("!", "*", "!*")


def test_the_repositories_exist_encrypted_with_the_key_in_the_repository(host: Any, backup: dict[str, Any]) -> None:
    if "backup" not in backup["group_names"]:
        pytest.skip("the backup host's check")
    root = host.file(backup["borg_server_root"])
    assert root.user == "borg" and root.mode == 0o700
    with host.sudo():
        for client in clients(backup):
            config = host.file(f"{backup['borg_server_root']}/{client}/config").content_string
            assert "[repository]" in config
            # repokey: the key sits in the repository, encrypted with the client's passphrase (blake2 keyed MAC)
            assert re.search(r"^key = \S+", config, re.MULTILINE), client


def test_a_daily_timer_backs_the_host_up_with_a_random_delay(host: Any, backup: dict[str, Any]) -> None:
    if "backup" in backup["group_names"]:
        pytest.skip("the service hosts' check")
    timer = host.service("egov6-backup.timer")
    assert timer.is_enabled and timer.is_running
    shown = host.run("systemctl show egov6-backup.timer -p TimersCalendar -p RandomizedDelayUSec").stdout
    assert f"{backup['backup_schedule']}:00 Europe/Berlin" in shown
    assert "RandomizedDelayUSec=30min" in shown


def test_the_backup_key_and_passphrase_are_root_only(host: Any, backup: dict[str, Any]) -> None:
    if "backup" in backup["group_names"]:
        pytest.skip("the service hosts' check")
    with host.sudo():
        for name in ("passphrase", "id_ed25519", "config.json"):
            found = host.file(f"/etc/egov6/backup/{name}")
            assert found.user == "root" and found.mode == 0o600, name
        pinned = host.file("/etc/egov6/backup/known_hosts").content_string.split()
    assert pinned[0] == backup["backup_server_address"] and pinned[1] == "ssh-ed25519"


def test_the_repository_answers_to_the_host(host: Any, backup: dict[str, Any]) -> None:
    if "backup" in backup["group_names"]:
        pytest.skip("the service hosts' check")
    with host.sudo():
        listed = host.run("/usr/local/sbin/egov6-backup list")
    assert listed.rc == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)
