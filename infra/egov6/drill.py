"""The restore drill: the cloud host's newest archive, restored onto a fresh lab host made for the drill.

The drill host is created from the lab's cached image on the lab's bridge (a host outside the topology, recorded
in the lab's state so that `lab down` removes it whatever happens), bootstraps from the same cloud-init user-data,
and is converged with the same playbooks from the stack alone (an inventory of its own, with the stack's secrets).
Then the archive is streamed onto it with the controller's maintenance key (`borg export-tar`), the database is
restored from its dump, and the restored Nextcloud is checked as its users would notice: it serves, its club spaces
are those of the registry, club files come back bit-identical, club calendars serve their events. The host is
removed afterwards. A restored copy never sends mail (its mail mode is set to null and the club mail timer stays
off): the drill must not write to club members.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import urllib3

from egov6 import backup
from egov6.bootstrap import HOST_KEY_TYPES
from egov6.clubs.spaces import desired_state, run_provisioner
from egov6.config.schema import Role
from egov6.errors import Egov6Error
from egov6.inventory import (
    SERVICE_OF_ROLE,
    close_connections,
    nextcloud_data_dir,
    trust_bundle,
    write_inventory,
    write_ssh_config,
)
from egov6.lab.backend import LabBackend
from egov6.lab.keys import new_ssh_key
from egov6.lab.paths import drill_stack
from egov6.lab.provision import LAB_LOCATION, seed
from egov6.lab.volumes import lab_volume_ids
from egov6.orchestrate import AUTOMATION_KEY, Stack, connection_from, converge_failure
from egov6.outputs import HostOutput, local_dir, outputs_path, read_outputs
from egov6.remote import checked, on_host
from egov6.runner import run_playbook
from egov6.topology import Topology

Progress = Callable[[str], None]
CLUB_ITEMS = {"group", "account", "folder", "share", "calendar", "calendar-share"}
FILES_COMPARED = 5
ENGINE_MODELS = "/var/lib/spiffworkflow/process-models"  # the spiffworkflow role's models folder


@dataclass(frozen=True)
class Check:
    name: str
    state: Literal["passed", "failed", "skipped"]
    detail: str


@dataclass
class DrillReport:
    source: str
    archive: str = ""
    host: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.state != "failed" for c in self.checks)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


# A lab repository holds a few GB at most: borg taking longer than this on it hangs (it is not slow).
LAB_BORG_TIMEOUT = 1800


def drill_topology(topology: Topology, role: Role) -> Topology:
    """The stack's topology with one fresh host in place of the role's first host: the same group values, a name
    and a free address of its own (the subnet's last free one), a stack name of its own for its local files."""
    source = topology.by_role(role)[0]
    used = {h.private_ip for h in topology.hosts} | {topology.gateway}
    free = (str(a) for a in reversed(list(topology.config.network.subnet.hosts())) if str(a) not in used)
    name = f"{topology.config.name}-drill-{role}"
    # volumes of its own (named after it): the drill never touches the source host's volumes
    own = tuple(replace(v, name=f"{name}-{v.purpose}") for v in source.volumes)
    host = replace(source, name=name, private_ip=next(free), volumes=own)
    return replace(topology, stack=drill_stack(topology.stack), hosts=(host,), rules={role: topology.rules[role]})


def _root(topology: Topology, host: str, script: str, what: str, timeout: float = 1800) -> str:
    return checked(topology.stack, host, f"sudo -n sh -c {shlex.quote(script)}", what, timeout)


def _sql(topology: Topology, host: str, query: str, database: str = "nextcloud") -> list[list[str]]:
    """Rows of a fixed query (egov6's own text, no value from outside) on one of the host's databases."""
    # fields apart by the unit separator: a file name may hold any printable character
    psql = f"runuser -u postgres -- psql -tA -F \"$(printf '\\037')\" -d {database} -c {shlex.quote(query)}"
    out = _root(topology, host, psql, "a database query", 300)
    return [line.split("\x1f") for line in out.splitlines() if line]


def run(stack: Stack, progress: Progress, role: Literal["cloud", "flow"] = "cloud", keep: bool = False) -> DrillReport:
    """The drill for the stack's first host of ``role``; raises on what stops it (no archive, a damaged
    repository, a failed converge or restore) and reports the checks otherwise. ``keep`` leaves the drill host
    running (for a look; `egov6 lab down` removes it)."""
    if not stack.is_lab:
        raise Egov6Error(f"stack {stack.name}: the restore drill runs on a lab stack (it creates a fresh lab host)")
    source = stack.topology.by_role(role)[0].name
    report = DrillReport(source)
    began = time.monotonic()
    made = backup.archives(stack.topology, source)
    if not made:
        raise Egov6Error(f"{source} has no archive yet: `egov6 backup run {stack.name}` first")
    report.archive = made[-1].name
    progress(f"checking {report.archive} (borg check of the repository and the archive)")
    backup.check(stack.topology, source, report.archive, timeout=LAB_BORG_TIMEOUT)
    report.seconds["check"] = time.monotonic() - began

    topology = drill_topology(stack.topology, role)
    host = topology.hosts[0]
    report.host = host.name
    lab = LabBackend(stack.topology)
    close_connections(local_dir(topology.stack))
    if lab.remove_extra_host(host.name):
        progress(f"removed {host.name}, left running by an earlier drill (--keep)")
    try:
        _fresh_host(stack, topology, lab, report, progress)

        began = time.monotonic()
        progress(f"restoring {report.archive} onto {host.name}")
        _restore(stack, topology, host.name, source, report.archive, restore_parts(topology, role))
        report.seconds["restore"] = time.monotonic() - began

        began = time.monotonic()
        progress(f"checking the restored {role} host as its users would")
        verify = _verify_cloud if role == "cloud" else _verify_flow
        report.checks = verify(stack, topology, host.name, source)
        report.seconds["verify"] = time.monotonic() - began
    finally:
        lab.point_names(lab.zone())  # the service name back at the live host
        if not keep:
            close_connections(local_dir(topology.stack))
            lab.remove_extra_host(host.name)
            shutil.rmtree(local_dir(topology.stack), ignore_errors=True)
    return report


def _fresh_host(stack: Stack, topology: Topology, lab: LabBackend, report: DrillReport, progress: Progress) -> None:
    """The drill host: booted from the cached image with its own pinned host keys and the stack's cloud-init
    user-data, then converged from the stack alone (an inventory of its own, the stack's secrets). Its service name
    points at it while the drill runs (what moving a service onto a restored server does), so that it gets its
    certificate from the ACME server as any new server would."""
    host = topology.hosts[0]
    local = local_dir(topology.stack)
    outputs = read_outputs(outputs_path(stack.name))
    keys = {host.name: {kind: new_ssh_key(kind) for kind in HOST_KEY_TYPES}}
    pinned = tuple(keys[host.name][kind].public_key for kind in HOST_KEY_TYPES)
    volume_ids = lab_volume_ids(host)  # fresh volumes of its own, like a new server
    drill_outputs = outputs.model_copy(update={"stack": topology.stack, "hosts": (HostOutput(
        name=host.name, role=host.role, location=LAB_LOCATION, private_ip=host.private_ip, ipv4=host.private_ip,
        host_keys=pinned, volumes=volume_ids),)})  # fmt: skip
    began = time.monotonic()
    lab.start_extra_host(host, seed(drill_outputs, host.name, keys), pinned, volume_ids, progress)
    report.seconds["provision"] = time.monotonic() - began

    service = topology.config.fqdn("cloud" if host.role == "cloud" else "flow")
    lab.point_names({service: host.private_ip})

    began = time.monotonic()
    progress(f"converging {host.name} from the stack alone (the {host.role} host's playbooks)")
    automation = stack.local / AUTOMATION_KEY
    write_ssh_config(local / "ssh_config", drill_outputs, automation)
    # the live stack's secrets and roots, the drill host's own ssh config
    connection = replace(connection_from(outputs, automation, stack.local), ssh_config=local / "ssh_config")
    folder = write_inventory(topology, {host.name: host.private_ip}, connection, local / "inventory",
                             {host.name: volume_ids})  # fmt: skip
    failure = converge_failure(run_playbook(folder, artifacts=local / "runner"))
    if failure:
        raise Egov6Error(f"the drill host did not converge: {failure}")
    report.seconds["converge"] = time.monotonic() - began


def _restore(stack: Stack, topology: Topology, host: str, source: str, archive: str, parts: RestoreParts) -> None:
    """The fresh install of the converge is replaced whole (this host was made by this drill, nothing else is on
    it): services stopped, their data removed, the database emptied; the archive streamed in, its dump restored."""
    database = SERVICE_OF_ROLE[topology.hosts[0].role]
    clear = (f"systemctl stop {parts.stop} && rm -rf --one-file-system {parts.remove} && "
             f"runuser -u postgres -- dropdb {database} && "
             f"runuser -u postgres -- createdb -O {database} {database}")  # fmt: skip
    _root(topology, host, clear, "clearing the fresh install")
    backup.stream_archive(stack.topology, source, archive, topology.stack, host, timeout=LAB_BORG_TIMEOUT)
    dump = f"/var/backups/egov6/{database}.pgdump"
    restore = f"runuser -u postgres -- pg_restore --no-owner --role={database} -d {database} < {dump}"
    _root(topology, host, f"{restore} && {parts.start}", "restoring the database and starting the service")


@dataclass(frozen=True)
class RestoreParts:
    stop: str  # units stopped before the restore
    remove: str  # what the converge put where the archive's data goes
    start: str  # what starts the restored service


def restore_parts(topology: Topology, role: Role) -> RestoreParts:
    if role == "cloud":
        return RestoreParts(
            "nextcloud-cron.timer nextcloud-clubs-mail.timer nginx 'php*-fpm.service'",
            nextcloud_data_dir(topology),
            # unit globs match loaded units only: the installed PHP-FPM by its unit file; a restored copy never
            # mails club members (mail mode null, the club mail timer stays off)
            "systemctl start $(systemctl list-unit-files --no-legend 'php*-fpm.service' | cut -d' ' -f1) nginx && "
            "egov6-occ config:system:set mail_smtpmode --value=null && "
            "egov6-occ maintenance:mode --off && egov6-occ maintenance:data-fingerprint",
        )
    # the engine: the models of the converge make way for the archived ones
    units = "spiffworkflow-backend spiffworkflow-scheduler"
    return RestoreParts(units, ENGINE_MODELS, f"systemctl start {units}")


def _verify_flow(stack: Stack, topology: Topology, host: str, source: str) -> list[Check]:
    """The engine answers, and holds the archive's process instances, each with its process model."""
    wait = ("for i in $(seq 60); do python3 -c \"import urllib.request as u; "
            "u.urlopen('http://127.0.0.1:7000/api/v1.0/status', timeout=5)\" 2>/dev/null && exit 0; sleep 2; done; "
            "exit 1")  # fmt: skip
    serving = on_host(topology.stack, host, f"sudo -n sh -c {shlex.quote(wait)}", "waiting for the engine", 300)
    answered = serving.returncode == 0
    checks = [Check("engine", "passed" if answered else "failed",
                    "answers on its API" if answered else "its API did not answer within 2 min")]  # fmt: skip
    query = "SELECT count(*), coalesce(max(id), 0) FROM process_instance"
    count, newest = (int(v) for v in _sql(topology, host, query, "spiffworkflow")[0])
    if count == 0:
        return [*checks, Check("process instances", "skipped", "the archive holds no process instance")]
    older = f"SELECT count(*) FROM process_instance WHERE id <= {newest}"  # noqa: S608 a number
    live = int(_sql(stack.topology, source, older, "spiffworkflow")[0][0])
    models = _sql(topology, host, "SELECT DISTINCT process_model_identifier FROM process_instance", "spiffworkflow")
    missing = [m[0] for m in models
               if on_host(topology.stack, host, f"sudo -n test -d {shlex.quote(f'{ENGINE_MODELS}/{m[0]}')}",
                          "looking for a model", 60).returncode != 0]  # fmt: skip
    if count != live or missing:
        detail = f"{count} instances restored, {live} on the live engine; models missing: {', '.join(missing) or '-'}"
        return [*checks, Check("process instances", "failed", detail)]
    return [*checks, Check("process instances", "passed", f"{count} instances, each with its process model")]


def _verify_cloud(stack: Stack, topology: Topology, host: str, source: str) -> list[Check]:
    return [
        _serves(stack, topology, host),
        _club_spaces(stack, topology),
        _files(stack, topology, host, source),
        _calendar(stack, topology, host),
    ]


def _pool(stack: Stack, address: str) -> urllib3.HTTPSConnectionPool:
    domain = stack.config.fqdn("cloud")
    return urllib3.HTTPSConnectionPool(address, 443, server_hostname=domain, assert_hostname=domain,
                                       ca_certs=_roots(stack), cert_reqs="CERT_REQUIRED",
                                       retries=False, timeout=urllib3.Timeout(connect=5, read=120))  # fmt: skip


def _roots(stack: Stack) -> str | None:
    """The roots the controller trusts besides the system's (the lab's ACME server), or None for the system's."""
    bundle = trust_bundle(stack.local)
    return str(bundle) if bundle.is_file() else None


def _host(stack: Stack) -> dict[str, str]:
    """The service's name as the Host header (the drill host is reached by its address; Nextcloud trusts the name)."""
    return {"Host": stack.config.fqdn("cloud")}


def _serves(stack: Stack, topology: Topology, host: str) -> Check:
    answer = _pool(stack, topology.hosts[0].private_ip).request("GET", "/status.php", headers=_host(stack))
    found = json.loads(answer.data) if answer.status == 200 else {}
    if found.get("installed") and not found.get("maintenance"):
        return Check("nextcloud", "passed", f"serves over HTTPS, version {found.get('versionstring')}")
    return Check("nextcloud", "failed", f"status.php answered {answer.status}: {answer.data[:200]!r}")


def _club_spaces(stack: Stack, topology: Topology) -> Check:
    plan = run_provisioner(topology, "plan", desired_state(stack.clubs, stack.config))
    missing = [f"{c.club} {c.item}" for c in plan.changes if c.action == "create" and c.item in CLUB_ITEMS]
    active = sum(1 for club in stack.clubs.clubs if club.state == "active")
    if missing:
        return Check("club spaces", "failed", f"missing after the restore: {', '.join(missing[:10])}")
    return Check("club spaces", "passed", f"groups, accounts, folders, shares and calendars of {active} clubs")


def _files(stack: Stack, topology: Topology, host: str, source: str) -> Check:
    """Club files read through the restored Nextcloud (decrypted by it) against the same files on the live cloud:
    those at the same place with the same etag there (unchanged since the archive)."""
    query = ("SELECT substr(s.id, 7), f.path, f.etag FROM oc_filecache f "
             "JOIN oc_storages s ON s.numeric_id = f.storage JOIN oc_mimetypes m ON m.id = f.mimetype "
             "WHERE s.id LIKE 'home::club-%' AND f.path LIKE 'files/%' AND m.mimetype <> 'httpd/unix-directory' "
             "ORDER BY f.fileid DESC LIMIT 200")  # fmt: skip
    restored = {(account, path): etag for account, path, etag in _sql(topology, host, query)}
    if not restored:
        return Check("club files", "skipped", "the archive holds no club file")
    live = {(account, path): etag for account, path, etag in _sql(stack.topology, source, query)}
    same = [key for key, etag in restored.items() if live.get(key) == etag][:FILES_COMPARED]
    if not same:
        return Check("club files", "skipped", "every club file in the archive changed since (nothing to compare)")
    differ = [path for account, path in same
              if _digest(topology, host, account, path) != _digest(stack.topology, source, account, path)]  # fmt: skip
    if differ:
        return Check("club files", "failed", f"{', '.join(differ)} differ from the live cloud")
    return Check("club files", "passed", f"{len(same)} files read through the restored cloud match the live ones")


def _digest(topology: Topology, host: str, account: str, path: str) -> str:
    """SHA-256 of a file as Nextcloud serves it (occ files:get decrypts): into a folder of the web user, hashed."""
    where = shlex.quote(f"/{account}/{path}")
    script = ("t=$(mktemp -d -p /var/tmp) && trap 'rm -rf \"$t\"' EXIT && chown www-data \"$t\" && "
              f"egov6-occ files:get {where} \"$t/f\" && sha256sum < \"$t/f\"")  # fmt: skip
    return _root(topology, host, script, f"reading {account}'s {path}").split()[0]


def _calendar(stack: Stack, topology: Topology, host: str) -> Check:
    """The club calendar with the most events, read over CalDAV from the restored cloud (an app password of the
    club account, made on the drill host and gone with it)."""
    rows = _sql(topology, host, "SELECT substr(c.principaluri, 18), c.uri, count(o.id) FROM oc_calendars c JOIN "
                "oc_calendarobjects o ON o.calendarid = c.id WHERE c.principaluri LIKE 'principals/users/club-%' "
                "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1")  # fmt: skip
    if not rows:
        return Check("club calendars", "skipped", "the archive holds no event in a club calendar")
    account, uri, count = rows[0][0], rows[0][1], int(rows[0][2])
    token = _root(topology, host, f"egov6-occ user:auth-tokens:add --name=egov6-drill {shlex.quote(account)}",
                  "an app password for the check").strip().splitlines()[-1]  # fmt: skip
    auth = urllib3.make_headers(basic_auth=f"{account}:{token}")
    answer = _pool(stack, topology.hosts[0].private_ip).request(
        "PROPFIND", f"/remote.php/dav/calendars/{account}/{uri}/", headers={**auth, **_host(stack), "Depth": "1"}
    )
    if answer.status != 207:
        return Check("club calendars", "failed", f"CalDAV answered {answer.status} for {account}'s calendar")
    served = len(re.findall(rb"<(?:\w+:)?href>[^<]*\.ics</(?:\w+:)?href>", answer.data))
    if served != count:
        return Check("club calendars", "failed", f"{account}: {served} events over CalDAV, {count} in the database")
    return Check("club calendars", "passed", f"{account}: {count} events served over CalDAV")
