"""What the report says about data and measures that is not a resource: data categories per service, and the
technical and organisational measures with the place in the repository that proves each.

Retention figures are read from where they are enforced (stack file, role defaults), never restated here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from egov6.config.schema import StackConfig


@dataclass(frozen=True)
class DataCategory:
    service: str  # cloud | flow | backup | all
    name: str
    subjects: str
    purpose: str
    legal_basis: str
    retention: str
    deletion: str


@dataclass(frozen=True)
class Measure:
    id: str  # compliance catalogue id
    title: str
    article: str  # GDPR Art. 32 aspect
    bsi: str
    evidence: tuple[str, ...]  # repository paths (role files, tests, policies) that implement or prove it
    status: str = "implemented"  # implemented | planned (issue not done yet) | documented
    note: str = ""  # why a measure is not (yet) implemented for this stack


def services(cfg: StackConfig) -> dict[str, str]:
    """Each service as the cooperation calls it (names from the stack file)."""
    return {
        "cloud": f"{cfg.cooperation.cloud_name} (Nextcloud): files, shared calendars and video chat of the clubs",
        "flow": f"Workflow engine of {cfg.cooperation.name} (SpiffArena): e-government processes and OZG interfaces",
        "backup": "Backups of both services (borg)",
    }


@dataclass(frozen=True)
class Contacted:
    """A service outside the stack that the hosts connect to (through the egress rules): who runs it, where, and
    what it receives. None of them receives the data subjects' data (files, calendars, cases)."""

    name: str
    country: str
    receives: str
    purpose: str
    third_country: bool = False


def contacted_services(cfg: StackConfig, role: str) -> list[Contacted]:
    """The outside services the hosts of ``role`` contact, from the stack's own choices."""
    found = [
        Contacted("Hetzner Online GmbH (DNS resolvers, time servers)", "Germany", "the host's address",
                  "name resolution, time (NTP)"),
        Contacted("Debian project (deb.debian.org, security.debian.org; mirrors served through a CDN)",
                  "depends on the serving mirror (to be assessed by the DPO)",
                  "the host's address and the names of the packages it fetches", "security updates"),
    ]  # fmt: skip
    if cfg.tls.mode == "acme" and cfg.lab is None:  # a lab's ACME server is its own Pebble on the controller
        found.append(
            Contacted("Let's Encrypt (Internet Security Research Group)", "USA",
                      "the services' DNS names and the ACME contact address (tls.acme_email: use a functional "
                      "address, not a person's)", "TLS certificates (ACME)", third_country=True)
        )  # fmt: skip
    if role == "cloud" and (cfg.nextcloud.app_store or cfg.nextcloud.source == "upstream"):
        found.append(
            Contacted("Nextcloud GmbH (download server, app store)", "Germany",
                      "the host's address and the Nextcloud version", "the release and its apps")
        )  # fmt: skip
    return found


def backup_facts(cfg: StackConfig) -> dict[str, object]:
    """What the report says about backups: the declared target and retention, and for each property whether a role
    or command enforces it (only a backup host target is set up by the roles today)."""
    keep = cfg.backup.retention
    enforced = cfg.backup.target == "host"
    drill = "egov6 backup drill on the lab (CI runs it on every change)" if enforced and cfg.lab else "none yet"
    return {
        "target": cfg.backup.target,
        "location": cfg.backup.location,
        "enforced": enforced,
        "encryption": "borg repokey-blake2, one generated passphrase per host" if enforced else "declared, not set up",
        "client_keys": "append-only, each to its own repository" if enforced else "declared, not set up",
        "schedule": f"daily from {cfg.backup.schedule} Europe/Berlin, random delay up to 30 min"
        if enforced
        else "no backup job runs yet",
        "retention": keep.model_dump(),
        "retention_applied": "by `egov6 backup prune` (the controller's maintenance key), run by the team"
        if enforced
        else "not applied (no archives yet)",
        "restore_test": drill,
    }


def data_categories(cfg: StackConfig, journal_retention: str) -> list[DataCategory]:
    keep = cfg.backup.retention
    kept = f"{keep.daily} daily, {keep.weekly} weekly, {keep.monthly} monthly archives"
    if cfg.backup.target == "host":
        backups = f"{kept}, applied by `egov6 backup prune` (run by the team, not on a timer)"
    else:
        backups = f"declared: {kept}; no backup job runs yet (planned)"
    art6_e = "GDPR Art. 6(1)(e) with the municipal statutes (public task)"
    # egov6 clubs apply: offboarding ends access at once; the space goes after the retention (egov6-clubs.php)
    club_time = f"while the club uses the service, then {cfg.nextcloud.club_retention_days} days after offboarding"
    return [
        DataCategory("cloud", "Club files", "club members, people named in club documents",
                     "document sharing for clubs", "GDPR Art. 6(1)(b)/(e); club's own consent where needed",
                     club_time, "the first apply after the retention deletes the club folder and account"),
        DataCategory("cloud", "Calendars", "club members", "shared club calendars (CalDAV)", art6_e,
                     club_time, "deleted with the club's functional account"),
        DataCategory("cloud", "Contact data of clubs", "club contact persons (e-mail address, account)",
                     "setting up and supporting club spaces", art6_e, club_time,
                     "accounts only in the offboarded club are deleted with its space; none in the repository"),
        DataCategory("flow", "Workflow case data", "applicants (citizens, clubs)",
                     "processing OZG applications and e-government procedures", art6_e,
                     "per the procedure's records schedule", "deleted or archived when the case is closed"),
        DataCategory("all", "Logs", "admins, users, applicants (IP addresses, account names)",
                     "security, fault finding (BSI OPS.1.1.5)", "GDPR Art. 6(1)(c)/(e), Art. 32",
                     f"journald: {journal_retention}", "journald rotates out what is older"),
        DataCategory("backup", "Backups", "all of the above", "restoring after loss (GDPR Art. 32(1)(c))",
                     "GDPR Art. 6(1)(c)/(e), Art. 32", backups, "borg prune after `borg check`"),
    ]  # fmt: skip


MEASURES: tuple[Measure, ...] = (
    Measure("LOC-01", "All resources in German data centres", "Art. 44 ff.", "OPS.2.2",
            ("infra/egov6/policies/rules.py", "tests/unit/test_program.py")),
    Measure("NET-01", "Deny-by-default firewalls (Hetzner, nftables)", "Art. 32(1)(b)", "NET.3.2.A2, SYS.1.1",
            ("infra/egov6/hetzner/firewall.py", "playbooks/roles/base/templates/etc/nftables.conf.j2",
             "tests/hosts/test_base.py")),
    Measure("NET-02", "Outbound traffic restricted", "Art. 32(1)(b)", "NET.3.2.A2",
            ("infra/egov6/topology.py", "infra/egov6/policies/rules.py")),
    Measure("NET-03", "Databases and backends not reachable from outside", "Art. 32(1)(b)", "NET.1.1.A4/A5",
            ("infra/egov6/policies/rules.py", "tests/hosts/test_base.py", "tests/hosts/test_flow.py")),
    Measure("CRY-04", "SSH keys only, TR-02102-4 algorithms", "Art. 32(1)(a)", "SYS.1.3.A8",
            ("playbooks/roles/base/templates/etc/ssh/sshd_config.d/10-egov6.conf.j2",
             "tests/hosts/test_base.py")),
    Measure("HOST-05", "Login throttling (fail2ban)", "Art. 32(1)(b)", "APP.3.1.A1",
            ("playbooks/roles/base/tasks/fail2ban.yml", "tests/hosts/test_base.py")),
    Measure("LOG-01", "Persistent journal, admin actions logged", "Art. 32(1)(d)", "OPS.1.1.5.A3",
            ("playbooks/roles/base/tasks/logging.yml", "tests/hosts/test_base.py")),
    Measure("LOG-03", "Log retention bounded", "Art. 5(1)(e)", "OPS.1.1.5.A5",
            ("playbooks/roles/base/defaults/main.yml", "tests/hosts/test_base.py")),
    Measure("PAT-01", "Automatic security updates", "Art. 32(1)(b)", "OPS.1.1.3.A3",
            ("playbooks/roles/base/tasks/packages.yml", "tests/hosts/test_base.py")),
    Measure("ENC-01", "Encryption at rest of personal data", "Art. 32(1)(a)", "CON.6",
            ("infra/egov6/policies/rules.py", "playbooks/roles/nextcloud/tasks/configure.yml",
             "tests/hosts/test_nextcloud.py")),
    Measure("ENC-02", "No plaintext secrets", "Art. 32(1)(a)", "CON.1",
            ("infra/egov6/policies/rules.py", "tests/unit/test_audit.py")),
    Measure("BAK-03", "Encrypted daily backups in another location", "Art. 32(1)(c)", "CON.3.A2/A12",
            ("infra/egov6/policies/rules.py", "playbooks/roles/backup/tasks/client.yml", "tests/hosts/test_backup.py",
             "tests/e2e/test_backup.py")),
    Measure("BAK-04", "Backups protected against deletion by clients", "Art. 32(1)(c)", "CON.3.A14",
            ("playbooks/roles/borg_server/templates/authorized_keys.j2", "tests/hosts/test_backup.py",
             "tests/e2e/test_backup.py")),
    Measure("AVL-01", "Delete/rebuild protection in production", "Art. 32(1)(b)", "SYS.1.1",
            ("infra/egov6/hetzner/compute.py", "infra/egov6/policies/rules.py")),
    Measure("CRY-01", "TLS 1.2/1.3 only with TR-02102-2 ciphers", "Art. 32(1)(a)", "APP.3.2.A11",
            ("playbooks/roles/nginx/templates/etc/nginx/conf.d/egov6-tls.conf.j2", "tests/hosts/test_nextcloud.py",
             "tests/hosts/test_flow.py")),
    Measure("CRY-02", "Certificates from an ACME server, renewed before expiry, reloaded by their services",
            "Art. 32(1)(a)", "CON.1.A4",
            ("playbooks/roles/acme/tasks/main.yml", "tests/hosts/test_certificates.py",
             "tests/e2e/test_certificates.py")),
    Measure("IAM-04", "Workflow engine: sign-in via OpenID Connect, designer and clerk roles", "Art. 32(1)(b)",
            "ORP.4.A9", ("playbooks/roles/spiffworkflow/templates/etc/spiffworkflow/permissions.yml.j2",
                         "tests/e2e/test_flow.py")),
    Measure("BAK-05", "Regular restore tests and borg check", "Art. 32(1)(d)", "CON.3.A15",
            ("infra/egov6/drill.py", "infra/egov6/backup.py", "tests/e2e/test_backup.py")),
    Measure("LOC-02", "Data-processing agreement with Hetzner, reviewed yearly", "Art. 28(3)", "OPS.2.2.A4",
            ("stacks/",), "documented"),
)  # fmt: skip


def measures_for(cfg: StackConfig) -> list[Measure]:
    """The measures as they stand for this stack: a measure the stack's choice leaves undone is not claimed."""
    # Only Nextcloud's server-side encryption is enforced (nextcloud role) and tested (host tests) today.
    undone = {}
    if cfg.backup.target != "host":
        # the backup roles write to a stack's backup host; the Storage Box's keys are not set up by them yet
        for measure in ("BAK-03", "BAK-04"):
            undone[measure] = (
                f"the stack backs up to a {cfg.backup.target}, which the backup roles do not set up yet; "
                "only a backup host (backup.target: host) is enforced today"
            )
    if cfg.backup.target != "host" or not cfg.lab:
        undone["BAK-05"] = (
            "the restore drill runs on a lab stack with a backup host (egov6 backup drill); this stack has no "
            "restore test of its own yet"
        )
    if cfg.encryption.at_rest not in ("server_side", "luks"):
        undone["ENC-01"] = f"the stack declares '{cfg.encryption.at_rest}': no encryption at rest is enforced"
    measures = [replace(m, status="planned", note=undone[m.id]) if m.id in undone else m for m in MEASURES]
    if cfg.encryption.at_rest == "luks":
        # LUKS volumes (storage role) instead of Nextcloud's server-side encryption
        measures = [replace(m, evidence=LUKS_EVIDENCE, note=LUKS_NOTE) if m.id == "ENC-01" else m for m in measures]
    return measures


LUKS_EVIDENCE = (
    "infra/egov6/policies/rules.py",
    "playbooks/roles/storage/library/egov6_volume.py",
    "playbooks/roles/storage/tasks/main.yml",
    "tests/unit/test_storage.py",
    "tests/hosts/test_storage.py",
)
LUKS_NOTE = (
    "LUKS2 volumes, one generated key per volume, opened at boot (threat model: Hetzner's storage outside the "
    "running server, detached or disposed volumes); the lab cannot open LUKS (no device-mapper), so the LUKS "
    "commands are tested at unit level and the host test runs on the real hosts (egov6 verify)"
)
