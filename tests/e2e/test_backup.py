"""Backups on the lab (marked `lab`): `egov6 backup run` makes an encrypted archive per service host on the backup
host, the archive restores a member's file and the database, a stolen client key cannot destroy what the
repository holds, and a backup target that is down or a damaged repository is reported loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egov6 import drill
from egov6.cli.clubs import run_clubs
from egov6.cli.lab import converge_stack
from egov6.cli.main import app
from egov6.errors import Egov6Error
from egov6.inventory import control_dir
from egov6.lab.paths import LabPaths
from egov6.orchestrate import Stack
from tests.e2e.cloud_client import Cloud, User
from tests.e2e.lab_service import as_root

pytestmark = pytest.mark.lab
runner = CliRunner()
STACK = "lab"
REPOSITORIES = "/srv/data/borg"
KEYS = "/etc/egov6/backup"  # a service host's backup key, passphrase and pinned target


@dataclass(frozen=True)
class Hosts:
    cloud: str
    flow: str
    backup: str
    cloud_ip: str
    backup_ip: str

    def root(self, host: str, command: str) -> subprocess.CompletedProcess[str]:
        return as_root(LabPaths(STACK).ssh_config, host, command)


@pytest.fixture(scope="module")
def hosts() -> Hosts:
    topology = Stack.load(STACK).topology
    cloud, flow, server = (topology.by_role(role)[0] for role in ("cloud", "flow", "backup"))
    return Hosts(cloud.name, flow.name, server.name, cloud.private_ip, server.private_ip)


@dataclass(frozen=True)
class Probe:
    user: User
    content: bytes
    archive: str  # the cloud host's archive made after the upload


@pytest.fixture(scope="module")
def probe(hosts: Hosts) -> Iterator[Probe]:
    """A member's file in the cloud, then a backup of every service host through the CLI."""
    cloud = Cloud.of_lab(STACK)
    user = cloud.user("backup-probe", secrets.token_urlsafe(18))
    content = os.urandom(300_000)
    user.request("PUT", user.files("probe.bin"), body=content)
    result = runner.invoke(app, ["backup", "run", STACK])
    assert result.exit_code == 0, result.output
    for name in (hosts.cloud, hosts.flow):
        assert f"{name}: archive {name}-" in result.output
    listed = json.loads(hosts.root(hosts.cloud, "/usr/local/sbin/egov6-backup list").stdout)
    try:
        yield Probe(user, content, listed[-1]["name"])
    finally:
        cloud.occ("user:delete", user.name)


def test_status_shows_each_host_current_and_checked(probe: Probe, hosts: Hosts) -> None:
    result = runner.invoke(app, ["backup", "status", STACK])
    assert result.exit_code == 0, result.output
    assert "2 hosts current and checked" in result.output
    listed = runner.invoke(app, ["backup", "list", STACK, "--host", hosts.cloud])
    assert listed.exit_code == 0 and probe.archive in listed.output
    # the run left Nextcloud serving (maintenance mode only while the dump and the archive were made)
    assert "disabled" in hosts.root(hosts.cloud, "egov6-occ maintenance:mode").stdout


def test_the_archive_restores_the_database_and_the_members_file(probe: Probe, hosts: Hosts) -> None:
    scratch = "/var/tmp/egov6-restore-check"
    database = "egov6_restore_check"
    hosts.root(hosts.cloud, f"rm -rf {scratch}; runuser -u postgres -- dropdb --if-exists {database}")
    try:
        extracted = hosts.root(hosts.cloud, f"egov6-backup extract {probe.archive} {scratch}")
        assert extracted.returncode == 0, extracted.stderr
        stored = f"srv/data/nextcloud/{probe.user.name}/files/probe.bin"
        live = hosts.root(hosts.cloud, f"sha256sum /{stored} {scratch}/{stored}").stdout.split()
        assert live[0] == live[2], "the restored file differs from the one in the data folder"
        assert hosts.root(hosts.cloud, f"test -s {scratch}/var/www/nextcloud/config/config.php").returncode == 0
        # root reads the restored dump (root-only, as in the archive) and hands it to pg_restore
        restore = (f"runuser -u postgres -- createdb {database} && runuser -u postgres -- pg_restore --no-owner "
                   f"-d {database} < {scratch}/var/backups/egov6/nextcloud.pgdump")  # fmt: skip
        assert hosts.root(hosts.cloud, restore).returncode == 0
        query = ("SELECT count(*) FROM oc_filecache f JOIN oc_storages s ON s.numeric_id = f.storage "  # noqa: S608
                 f"WHERE s.id = 'home::{probe.user.name}' AND f.path = 'files/probe.bin'")  # fmt: skip
        found = hosts.root(hosts.cloud, f"runuser -u postgres -- psql -tA -d {database} -c {shlex.quote(query)}")
        assert found.stdout.strip() == "1", found.stderr
    finally:
        hosts.root(hosts.cloud, f"rm -rf {scratch}; runuser -u postgres -- dropdb --if-exists {database}")


def _segments(hosts: Hosts, client: str) -> dict[str, str]:
    listing = hosts.root(hosts.backup, f"cd {REPOSITORIES}/{client} && find data -type f -exec sha256sum {{}} +")
    assert listing.returncode == 0, listing.stderr
    return {path: digest for digest, path in (line.split() for line in listing.stdout.splitlines())}


def _as_thief(hosts: Hosts, repository: str, *borg: str) -> subprocess.CompletedProcess[str]:
    """borg with what a thief of the cloud host has: its backup key and passphrase, and nothing else."""
    env = (f"BORG_RSH='ssh -i {KEYS}/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes "
           f"-o UserKnownHostsFile={KEYS}/known_hosts' "
           f"BORG_PASSCOMMAND='cat {KEYS}/passphrase' BORG_RELOCATED_REPO_ACCESS_IS_OK=yes "
           "HOME=/var/lib/egov6-backup")  # fmt: skip
    url = f"ssh://borg@{hosts.backup_ip}{REPOSITORIES}/{repository}"
    target = f"{url}::{borg[1]}" if len(borg) > 1 else url
    return hosts.root(hosts.cloud, f"env {env} borg {borg[0]} {target}")


def test_a_stolen_client_key_cannot_destroy_the_repository(probe: Probe, hosts: Hosts) -> None:
    before = _segments(hosts, hosts.cloud)
    # the thief deletes the newest archive and compacts: borg serve --append-only takes the request, keeps the data
    assert _as_thief(hosts, hosts.cloud, "delete", probe.archive).returncode == 0
    _as_thief(hosts, hosts.cloud, "compact")
    after = _segments(hosts, hosts.cloud)
    assert {path: after.get(path) for path in before} == before, "a segment of the repository was changed or removed"
    # nor can the key reach another host's repository, or a shell
    other = _as_thief(hosts, hosts.flow, "list")
    assert other.returncode != 0 and "Repository path not allowed" in other.stderr
    login = (f"ssh -i {KEYS}/id_ed25519 -o BatchMode=yes -o UserKnownHostsFile={KEYS}/known_hosts "
             f"borg@{hosts.backup_ip} id")  # fmt: skip
    shell = hosts.root(hosts.cloud, login)
    assert "uid=" not in shell.stdout


@pytest.fixture
def target_down(hosts: Hosts) -> Iterator[None]:
    """The backup host drops the cloud host's connections (as when it is off or the network is cut)."""
    rule = (f"nft add table inet egov6test && nft add chain inet egov6test input "
            f"'{{ type filter hook input priority -10 ; }}' && "
            f"nft add rule inet egov6test input ip saddr {hosts.cloud_ip} tcp dport 22 drop")  # fmt: skip
    assert hosts.root(hosts.backup, rule).returncode == 0
    try:
        yield
    finally:
        assert hosts.root(hosts.backup, "nft delete table inet egov6test").returncode == 0


def test_a_backup_target_that_is_down_fails_the_unit_and_the_status(target_down: None, hosts: Hosts) -> None:
    result = runner.invoke(app, ["backup", "run", STACK, "--host", hosts.cloud])
    assert result.exit_code == 1
    assert f"{hosts.cloud}: the backup failed" in result.output and "cannot be reached" in result.output
    assert hosts.root(hosts.cloud, "systemctl is-failed egov6-backup.service").stdout.strip() == "failed"
    state = runner.invoke(app, ["backup", "status", STACK, "--host", hosts.cloud])
    assert state.exit_code == 1 and "need attention" in state.output
    assert "disabled" in hosts.root(hosts.cloud, "egov6-occ maintenance:mode").stdout  # never left in maintenance


def test_the_next_run_after_an_outage_succeeds_and_clears_the_failure(hosts: Hosts) -> None:
    result = runner.invoke(app, ["backup", "run", STACK, "--host", hosts.cloud])
    assert result.exit_code == 0, result.output
    assert hosts.root(hosts.cloud, "systemctl is-failed egov6-backup.service").stdout.strip() != "failed"
    assert runner.invoke(app, ["backup", "status", STACK, "--host", hosts.cloud]).exit_code == 0


@contextlib.contextmanager
def _damaged(hosts: Hosts, client: str) -> Iterator[None]:
    """Five bytes early in the client's biggest repository segment overwritten (every object after them is lost to
    borg: the most it reports), put right afterwards."""
    biggest = hosts.root(
        hosts.backup, f"find {REPOSITORIES}/{client}/data -type f -printf '%s %p\\n' | sort -n | tail -1"
    )
    segment = biggest.stdout.split()[1]
    kept = "/var/tmp/egov6-segment.kept"
    damage = f"cp -p {segment} {kept} && printf 'egov6' | dd of={segment} bs=1 seek=64 conv=notrunc"
    assert hosts.root(hosts.backup, damage).returncode == 0
    try:
        yield
    finally:
        assert hosts.root(hosts.backup, f"cp -p {kept} {segment} && rm -f {kept}").returncode == 0


def test_a_damaged_repository_segment_is_found_by_status(probe: Probe, hosts: Hosts) -> None:
    with _damaged(hosts, hosts.flow):
        state = runner.invoke(app, ["backup", "status", STACK, "--host", hosts.flow])
        assert state.exit_code == 1, state.output
        assert "borg check failed" in state.output
    assert runner.invoke(app, ["backup", "status", STACK, "--host", hosts.flow]).exit_code == 0


def test_a_clubs_lost_files_come_back_into_its_folder_and_nothing_else_changes(hosts: Hosts) -> None:
    cloud = Cloud.of_lab(STACK)
    suffix = uuid.uuid4().hex[:6]
    ours = cloud.user(f"kassenwart-{suffix}", secrets.token_urlsafe(18), group="verein-tv-birstein")
    theirs = cloud.user(f"saenger-{suffix}", secrets.token_urlsafe(18), group="verein-gv-birstein")
    run_clubs(STACK, "apply")  # the members' group shares are accepted
    club, other = "Turnverein Birstein (fictional)", "Gesangverein Birstein (fictional)"
    folder = f"{club}/Vorstand-{suffix}"  # a place of this run's own (the test may run again on the same lab)
    try:
        assert ours.request("MKCOL", ours.files(folder)).status == 201
        assert ours.request("MKCOL", ours.files(f"{folder}/Protokolle")).status == 201
        ours.request("PUT", ours.files(f"{folder}/Protokolle/2026.txt"), body=b"Jahreshauptversammlung 2026\n")
        ours.request("PUT", ours.files(f"{folder}/Kasse.txt"), body=b"Kassenstand alt\n")
        theirs.request("PUT", theirs.files(f"{other}/Lieder-{suffix}.txt"), body=b"Liederliste alt\n")
        made = runner.invoke(app, ["backup", "run", STACK, "--host", hosts.cloud])
        assert made.exit_code == 0, made.output
        # after the backup: the club loses its minutes, and both clubs keep working
        assert ours.request("DELETE", ours.files(f"{folder}/Protokolle")).status == 204
        ours.request("PUT", ours.files(f"{folder}/Kasse.txt"), body=b"Kassenstand neu\n")
        theirs.request("PUT", theirs.files(f"{other}/Lieder-{suffix}.txt"), body=b"Liederliste neu\n")

        lost = f"Vorstand-{suffix}/Protokolle"
        result = runner.invoke(app, ["backup", "restore-files", STACK, "--club", "tv-birstein", "--path", lost])
        assert result.exit_code == 0, result.output
        assert "1 files put back" in result.output
        assert ours.request("GET", ours.files(f"{folder}/Protokolle/2026.txt")).data == b"Jahreshauptversammlung 2026\n"
        assert ours.request("GET", ours.files(f"{folder}/Kasse.txt")).data == b"Kassenstand neu\n"
        assert theirs.request("GET", theirs.files(f"{other}/Lieder-{suffix}.txt")).data == b"Liederliste neu\n"
        # the whole place again: what exists now is kept, nothing is overwritten, and a repeat is harmless
        whole = ["backup", "restore-files", STACK, "--club", "tv-birstein", "--path", f"Vorstand-{suffix}"]
        again = runner.invoke(app, whole)
        assert again.exit_code == 0 and "0 files put back" in again.output and "kept 2 files" in again.output
        assert ours.request("GET", ours.files(f"{folder}/Kasse.txt")).data == b"Kassenstand neu\n"
        outside = runner.invoke(app, ["backup", "restore-files", STACK, "--club", "tv-birstein", "--path", "../x"])
        assert outside.exit_code == 1 and "without '..'" in outside.output
    finally:
        ours.request("DELETE", ours.files(folder))
        theirs.request("DELETE", theirs.files(f"{other}/Lieder-{suffix}.txt"))
        for user in (ours, theirs):
            cloud.occ("user:delete", user.name)


def test_prune_applies_the_stacks_retention_with_the_maintenance_key(hosts: Hosts) -> None:
    for _ in range(2):
        assert runner.invoke(app, ["backup", "run", STACK, "--host", hosts.flow]).exit_code == 0
    before = len(json.loads(hosts.root(hosts.flow, "egov6-backup list").stdout))
    result = runner.invoke(app, ["backup", "prune", STACK, "--host", hosts.flow])
    assert result.exit_code == 0, result.output
    counts = re.search(r"(\d+) archives kept, (\d+) pruned", result.output)
    assert counts, result.output
    kept, pruned = int(counts.group(1)), int(counts.group(2))
    # archives of one day: the daily rule keeps the newest, the weekly and monthly rules one more each at most
    assert kept + pruned == before and pruned >= 1 and kept <= 3
    assert len(json.loads(hosts.root(hosts.flow, "egov6-backup list").stdout)) == kept


def _shared_calendar(user: User, club: str) -> str:
    calendars = user.propfind(f"/remote.php/dav/calendars/{user.name}/")
    shared = [href for href in calendars if f"verein_shared_by_club-{club}" in href]
    assert shared, calendars
    return shared[0]


def test_the_restore_drill_brings_the_cloud_back_on_a_fresh_host_from_a_backup_taken_during_uploads(
    hosts: Hosts,
) -> None:
    cloud = Cloud.of_lab(STACK)
    member = cloud.user(f"schriftfuehrerin-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(18),
                        group="verein-tv-steinau")  # fmt: skip
    run_clubs(STACK, "apply")
    folder = "Turnverein Steinau (fictional)"
    try:
        member.request("PUT", member.files(f"{folder}/Satzung.bin"), body=os.urandom(200_000))
        event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//egov6 tests//EN\r\nBEGIN:VEVENT\r\n"
                 f"UID:{uuid.uuid4()}\r\nDTSTAMP:20261129T120000Z\r\nDTSTART:20261212T180000Z\r\n"
                 "DTEND:20261212T200000Z\r\nSUMMARY:Weihnachtsfeier\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")  # fmt: skip
        calendar = _shared_calendar(member, "tv-steinau")
        put = member.request("PUT", f"{calendar}feier-{uuid.uuid4().hex[:8]}.ics", body=event.encode(),
                             headers={"Content-Type": "text/calendar"})  # fmt: skip
        assert put.status == 201
        # a member keeps uploading while the backup runs: refused (503) only while Nextcloud is in maintenance
        statuses: list[int] = []
        done = threading.Event()

        def upload() -> None:
            uploader = User(cloud, member.name, member.password, cloud.pool())
            count = 0
            while not done.is_set():
                count += 1
                answer = uploader.request(
                    "PUT", uploader.files(f"{folder}/Upload-{count}.bin"), body=os.urandom(50_000)
                )
                statuses.append(answer.status)

        worker = threading.Thread(target=upload)
        worker.start()
        try:
            made = runner.invoke(app, ["backup", "run", STACK, "--host", hosts.cloud])
        finally:
            done.set()
            worker.join()
        assert made.exit_code == 0, made.output
        assert statuses and set(statuses) <= {201, 204, 503}, statuses

        report = drill.run(Stack.load(STACK), progress=print)
        assert {c.name: c.state for c in report.checks} == dict.fromkeys(
            ["nextcloud", "club spaces", "club files", "club calendars"], "passed"
        ), report.checks
        assert set(report.seconds) == {"check", "provision", "converge", "restore", "verify"}
        # the drill host is gone again, with its local files
        assert report.host not in json.loads(LabPaths(STACK).state_file.read_text(encoding="utf-8"))["hosts"]
        assert not (LabPaths(STACK).local.parent / f"{STACK}-drill").exists()
        # and no shared SSH connection outlives it (the engine's drill host comes at the same address)
        assert not list(control_dir(LabPaths(STACK).local.parent / f"{STACK}-drill").glob("cm-*"))
    finally:
        cloud.occ("user:delete", member.name)


def test_the_restore_drill_brings_the_engine_back_with_its_process_instances(hosts: Hosts) -> None:
    assert runner.invoke(app, ["backup", "run", STACK, "--host", hosts.flow]).exit_code == 0
    count = "runuser -u postgres -- psql -tA -d spiffworkflow -c 'SELECT count(*) FROM process_instance'"
    instances = int(hosts.root(hosts.flow, count).stdout)
    report = drill.run(Stack.load(STACK), progress=print, role="flow")
    # the club applications of test_flow (run before) are process instances; a lab without any says so
    expected = "passed" if instances else "skipped"
    assert {c.name: c.state for c in report.checks} == {"engine": "passed", "process instances": expected}, report
    assert report.host not in json.loads(LabPaths(STACK).state_file.read_text(encoding="utf-8"))["hosts"]


def test_a_damaged_repository_stops_the_drill_before_anything_is_restored(hosts: Hosts) -> None:
    with _damaged(hosts, hosts.cloud):
        result = runner.invoke(app, ["backup", "drill", STACK])
    assert result.exit_code == 1
    assert f"borg check found damage in {hosts.cloud}'s repository" in result.output
    assert "nothing was restored" in result.output
    assert re.search(r"repository \((\S[^)]*)\): nothing was restored", result.output), result.output  # what borg found
    assert "drill" not in "".join(json.loads(LabPaths(STACK).state_file.read_text(encoding="utf-8"))["hosts"])


def test_a_lost_config_php_stops_the_converge_and_nothing_is_deleted(hosts: Hosts) -> None:
    """One lost file must not make a converge install a second instance over the clubs' data."""
    config = "/var/www/nextcloud/config/config.php"
    count = ("find /srv/data/nextcloud -type f | wc -l; runuser -u postgres -- psql -tA -d nextcloud -c "
             "\"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'\"")  # fmt: skip
    before = hosts.root(hosts.cloud, count).stdout.split()
    assert hosts.root(hosts.cloud, f"mv {config} /var/tmp/egov6-config.php.kept").returncode == 0
    try:
        with pytest.raises(Egov6Error) as stopped:
            converge_stack(STACK, limit=hosts.cloud)
        assert "config.php" in str(stopped.value) and "deletes nothing" in str(stopped.value), stopped.value
        after = hosts.root(hosts.cloud, count).stdout.split()
        assert after == before and int(before[1]) > 0, (before, after)  # no file, no table deleted
    finally:
        assert hosts.root(hosts.cloud, f"mv /var/tmp/egov6-config.php.kept {config}").returncode == 0
    again = converge_stack(STACK, limit=hosts.cloud)
    assert again.hosts[hosts.cloud].changed == 0, again.changed_tasks


def test_the_repository_keys_are_exported_for_the_safe(tmp_path: Path, hosts: Hosts) -> None:
    folder = tmp_path / "safe"
    result = runner.invoke(app, ["backup", "export-keys", STACK, str(folder)])
    assert result.exit_code == 0, result.output
    keys = {}
    for name in (hosts.cloud, hosts.flow):
        path = folder / f"{name}.borg-key"
        assert path.stat().st_mode & 0o777 == 0o600
        keys[name] = path.read_text(encoding="utf-8")
        assert keys[name].startswith("BORG_KEY ")
    assert keys[hosts.cloud] != keys[hosts.flow]  # one key (and passphrase) per host
