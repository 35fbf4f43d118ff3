"""The stack file's schema: one pydantic model, read by the CLI from the file and by the Pulumi program
through ``pulumi.Config``. It imports nothing else of egov6."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

Environment = Literal["lab", "staging", "production"]
Role = Literal["cloud", "flow", "backup"]
# hel1 (Finland) is EU but not Germany: accepted by the schema, flagged by policy LOC-01 unless allowed.
Location = Literal["fsn1", "nbg1", "hel1"]
GERMAN_LOCATIONS: frozenset[str] = frozenset({"fsn1", "nbg1"})

SLUG = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
# The admin key types the hardened SSH server accepts (base role: PubkeyAcceptedAlgorithms; a unit test keeps the
# two in step). ECDSA on NIST curves is not among them: a stack declaring such a key would lock its admin out.
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "sk-ssh-ed25519@openssh.com")
# Shapes of values that end up in URLs, configuration lines and environment files: nothing a shell, a config
# parser or a template engine treats as syntax (no whitespace, quotes, $, `, ;, |, &, <, >, braces).
HTTPS_URL = r"^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~%+=:@/-]*)?$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
CLIENT_ID = r"^[A-Za-z0-9._:@/-]{1,128}$"
VENDOR_FILE = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$"
ADMIN_NAME = r"^[a-z][a-z0-9_-]{1,31}$"
WORKFLOW_USER = r"^[a-z][a-z0-9-]{1,31}$"
SERVICE_NAME = r"^[a-z0-9-]{1,63}$"
SERVER_TYPE = r"^(cx|cpx|cax|ccx)\d{2,3}$"
# The roles are written and tested for Debian 12 only; another release is refused until they are.
IMAGE = r"^debian-12$"
STORAGE_BOX = r"^bx\d{2}$"
TIME_OF_DAY = r"^([01]\d|2[0-3]):[0-5]\d$"
BRIDGE = r"^[a-z][a-z0-9-]{1,14}$"
SHA256 = r"^[0-9a-f]{64}$"
VERSION = r"^\d+\.\d+\.\d+$"
MAX_CLUB_QUOTA_GB = 1024  # 1 TB per club (the cooperation's promise); the stack's default and each club's quota
# What each pattern means, for error messages a person can act on (instead of the bare expression).
PATTERN_HELP = {
    SLUG: "a slug: 2-32 lowercase letters, digits and '-', starting with a letter, not ending with '-'",
    DNS_NAME: "a DNS name in lowercase, e.g. egov6.example.de",
    HTTPS_URL: "an https:// URL: lowercase host name, optional port and path; no query, quotes, blanks or $",
    EMAIL: "an e-mail address such as it@example.de (lowercase domain)",
    CLIENT_ID: "an OpenID client id: letters, digits and . _ : @ / - (at most 128)",
    ADMIN_NAME: "a login name: 2-32 lowercase letters, digits, '_' and '-', starting with a letter",
    WORKFLOW_USER: "a login name: 2-32 lowercase letters, digits and '-', starting with a letter",
    SERVICE_NAME: "a DNS label: lowercase letters, digits and '-'",
    SERVER_TYPE: "a Hetzner server type such as cx22, cpx31, cax21 or ccx13",
    IMAGE: "debian-12 (the release the roles are written and tested for)",
    STORAGE_BOX: "a Storage Box type such as bx11 or bx21",
    TIME_OF_DAY: "a time of day HH:MM (24 h)",
    BRIDGE: "a Linux interface name: 2-15 lowercase letters, digits and '-', starting with a letter",
    SHA256: "a SHA-256 checksum: 64 lowercase hex digits",
    VERSION: "a release version MAJOR.MINOR.PATCH such as 33.0.1",
}
# What `egov6 stack template` writes where the cooperation must decide; never a valid value.
PLACEHOLDER = "CHANGE-ME"
# Template delimiters of Jinja (Ansible) in any free text: a stack value is data, never a template.
_TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_SSH_KEY_LINE = re.compile(r"^(\S+) ([A-Za-z0-9+/]+={0,2})(?: ([\x21-\x7e][\x20-\x7e]{0,99}))?$")


def plain_text(value: str) -> str:
    """Free text (names, addresses): printable, one line, no template syntax, no bidirectional controls."""
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(
                f"contains the control or formatting character U+{ord(char):04X} (line breaks, NUL, "
                "right-to-left marks and the like are refused)"
            )
    if PLACEHOLDER in value:
        raise ValueError(f"still holds the placeholder {PLACEHOLDER} of `egov6 stack template`: replace it")
    if _TEMPLATE_SYNTAX.search(value):
        raise ValueError("contains template syntax ({{ }}, {% %} or {# #}); stack values are data, not templates")
    if value != value.strip():
        raise ValueError("has leading or trailing blanks")
    return value


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never silently fall back to a default. Every string of the stack
    file, whatever its field, is free of control characters and template syntax (fields with a natural shape are
    narrowed further by their own pattern)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=2000)

    @field_validator("*", mode="before")
    @classmethod
    def _no_code_in_strings(cls, value: Any) -> Any:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                plain_text(text)
        return value


class CooperationConfig(Strict):
    """How people call the cooperation and its services: every report, heading, form and banner uses these."""

    name: str = Field(min_length=2, max_length=100, description="Name of the cooperation, as shown to people")
    cloud_name: str = Field(
        min_length=2, max_length=60, description="Name of the club cloud (the Nextcloud service), as shown to people"
    )


class Town(Strict):
    name: str = Field(
        min_length=2, max_length=100, description="Official name of the town, as in the processing register"
    )
    slug: str = Field(pattern=SLUG, description="Short lowercase name used in labels and club registries")
    address: str = Field(
        "",
        max_length=300,
        description="Postal address of the town's administration (one line): the Art. 30 record names each joint "
        "controller with its contact details",
    )


class Admin(Strict):
    name: str = Field(pattern=ADMIN_NAME, description="Personal login name (no shared accounts)")
    ssh_key: str = Field(
        description="One OpenSSH public key, 'TYPE BASE64 [comment]' on one line (ssh-ed25519 recommended; "
        "ssh-rsa from 3072 bits); admins log in with keys only"
    )

    @field_validator("ssh_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        # Exactly one key on one line: type, base64 body, optional printable comment. No options (a stack
        # file must not smuggle in command="..." or a second key).
        match = _SSH_KEY_LINE.match(value)
        if not match or match.group(1) not in SSH_KEY_TYPES:
            raise ValueError(
                f"not one OpenSSH public key ('TYPE BASE64 [comment]' on one line, TYPE one of "
                f"{', '.join(SSH_KEY_TYPES)})"
            )
        key_type, body = match.group(1), match.group(2)
        try:
            blob = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError("the key's base64 part does not decode") from exc
        if len(blob) < 4 or blob[4 : 4 + int.from_bytes(blob[:4], "big")] != key_type.encode():
            raise ValueError("the key's data does not match its type")
        if key_type == "ssh-rsa" and len(blob) < 400:
            raise ValueError("RSA keys must have at least 3072 bits (BSI TR-02102-4)")
        return value


class HostGroup(Strict):
    count: int = Field(1, ge=1, le=500, description="How many hosts of this role")
    server_type: str = Field(pattern=SERVER_TYPE, description="Hetzner server type (CPU, memory, disk of each host)")
    location: Location = Field(description="Hetzner data centre: fsn1 Falkenstein, nbg1 Nuremberg, hel1 Helsinki")
    image: str = Field("debian-12", pattern=IMAGE, description="Operating system image (Debian release)")
    data_volume_gb: int = Field(
        0, ge=0, le=10240, description="Size of the volume for user data (Nextcloud files) in GB; 0: none"
    )
    db_volume_gb: int = Field(0, ge=0, le=10240, description="Size of the volume for database files in GB; 0: none")


class NetworkConfig(Strict):
    ip_range: ipaddress.IPv4Network = Field(description="Private network of the stack (RFC 1918), CIDR notation")
    subnet: ipaddress.IPv4Network = Field(
        description="The hosts' subnet inside ip_range; hosts start at its 10th address"
    )
    zone: Literal["eu-central"] = Field("eu-central", description="Hetzner network zone of the German locations")

    @model_validator(mode="after")
    def _subnet_inside(self) -> NetworkConfig:
        if not self.ip_range.is_private:
            raise ValueError(f"ip_range {self.ip_range} is not a private (RFC 1918) range")
        if not self.subnet.subnet_of(self.ip_range):
            raise ValueError(f"subnet {self.subnet} is not inside ip_range {self.ip_range}")
        return self


class Retention(Strict):
    daily: int = Field(7, ge=1, le=60, description="Daily backups kept (count)")
    weekly: int = Field(4, ge=0, le=52, description="Weekly backups kept (count)")
    monthly: int = Field(
        6, ge=0, le=24, description="Monthly backups kept (count); the oldest backup's age bounds retention (DEL-03)"
    )


class BackupConfig(Strict):
    target: Literal["storage_box", "host"] = Field(
        description="storage_box: Hetzner Storage Box (production); host: the stack's backup host (lab)"
    )
    location: Location = Field(description="Data centre of the backups; another one than the hosts' (BSI CON.3)")
    storage_box_type: str = Field(
        "bx21", pattern=STORAGE_BOX, description="Hetzner Storage Box size (storage_box only)"
    )
    schedule: str = Field("02:30", pattern=TIME_OF_DAY, description="Daily start, local time (Europe/Berlin)")
    retention: Retention = Field(Retention(), description="How many backups are kept")
    max_age_hours: int = Field(
        26, ge=2, le=24 * 8, description="`egov6 backup status` fails when a host's newest archive is older"
    )


class TurnConfig(Strict):
    enabled: bool = Field(True, description="Run a TURN server (coturn) for Talk's video calls behind NAT")
    port: int = Field(3478, ge=1, le=65535, description="TURN port (UDP and TCP)")
    tls_port: int = Field(5349, ge=1, le=65535, description="TURN over TLS port")
    relay_min: int = Field(49152, ge=1024, le=65535, description="First UDP port of the media relay range")
    relay_max: int = Field(65535, ge=1024, le=65535, description="Last UDP port of the media relay range")

    @model_validator(mode="after")
    def _relay_range(self) -> TurnConfig:
        if self.relay_min >= self.relay_max:
            raise ValueError(f"relay_min {self.relay_min} must be below relay_max {self.relay_max}")
        return self


class EncryptionConfig(Strict):
    at_rest: Literal["luks", "server_side", "none"] = Field(
        description="luks: encrypted volumes; server_side: Nextcloud server-side encryption (GDPR Art. 32)"
    )


class Contact(Strict):
    name: str = Field(min_length=2, max_length=200, description="Name of the person or body")
    email: str = Field(pattern=EMAIL, max_length=254, description="Contact e-mail address")
    address: str = Field("", max_length=300, description="Postal address (one line), as in the processing register")


class ProcessingConfig(Strict):
    """Who is responsible (GDPR Art. 4(7), 28, 30): feeds the processing register and the audit report."""

    controller: Contact = Field(description="Controller (Art. 4(7) GDPR): the lead town for the cooperation")
    dpo: Contact = Field(description="Data-protection officer (Art. 37 GDPR)")
    processor: Contact = Field(description="Processor (Art. 28 GDPR): the hosting provider")
    dpa_signed: dt.date = Field(description="Data-processing agreement with Hetzner signed on")
    dpa_reviewed: dt.date = Field(description="Last yearly review of the agreement and Hetzner's TOMs")
    joint_controllership: str | None = Field(
        None,
        min_length=10,
        max_length=500,
        description="The towns' arrangement as joint controllers (Art. 26 GDPR): what it is, when it was concluded, "
        "where its essence is published; required when the stack has more than one town",
    )
    holds_personal_data: bool = Field(True, description="The stack processes personal data (it does: accounts, files)")


class LabConfig(Strict):
    bridge: str = Field(pattern=BRIDGE, description="Linux bridge name (max 15 chars)")
    apt_cache_port: int = Field(3152, ge=1024, le=65535, description="apt-cacher-ng port on the bridge")
    mail_sink_port: int = Field(
        2525, ge=1024, le=65535, description="The lab's SMTP sink on the bridge: the mail relay of a lab stack"
    )


class SmtpConfig(Strict):
    host: str = Field(pattern=DNS_NAME, description="The mail relay Nextcloud sends through (invitations)")
    port: int = Field(587, ge=1, le=65535, description="Its port: 587 with starttls, 465 with tls")
    security: Literal["starttls", "tls"] = Field("starttls", description="TLS to the relay: starttls or tls")
    sender: str = Field(pattern=EMAIL, description="The address mails come from (e.g. noreply@<domain>)")
    user: str | None = Field(
        None,
        pattern=CLIENT_ID,
        description="Login at the relay, if it asks for one; its password is EGOV6_SMTP_PASSWORD on the controller",
    )


class DnsConfig(Strict):
    ttl: int = Field(300, ge=60, le=86400, description="Time to live of the stack's DNS records in seconds")
    cloud: str = Field("cloud", pattern=SERVICE_NAME, description="Host name of the club cloud inside domain")
    flow: str = Field("flow", pattern=SERVICE_NAME, description="Host name of the workflow engine inside domain")


class ReleaseArchive(Strict):
    """Where an upstream release comes from: the offline vendor folder (lab, CI) or upstream, verified."""

    source: Literal["vendor", "upstream"] = Field(
        description="vendor: a file of the offline vendor folder (lab, CI); upstream: download and verify"
    )
    archive: str = Field(
        min_length=5, max_length=500, description="vendor: file name; upstream: https URL of the release"
    )
    sha256: str | None = Field(None, pattern=SHA256, description="upstream: pinned checksum")

    @model_validator(mode="after")
    def _source(self) -> ReleaseArchive:
        if self.source == "upstream" and not re.match(HTTPS_URL, self.archive):
            raise ValueError("an upstream archive is an https:// URL (host name, path; no query, quotes or blanks)")
        if self.source == "vendor" and not re.match(VENDOR_FILE, self.archive):
            raise ValueError(
                "a vendor archive is a file name inside the vendor folder (EGOV6_VENDOR_DIR): letters, digits, . _ + -"
            )
        return self


class NextcloudConfig(ReleaseArchive):
    version: str = Field("33.0.1", pattern=VERSION, description="Nextcloud release installed")
    club_quota_gb: int = Field(
        1024,
        ge=1,
        le=MAX_CLUB_QUOTA_GB,
        description="Default quota of each club's space in GB (per club; at most 1 TB)",
    )
    club_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days an offboarded club's data is kept (access ends at once); the next apply after deletes it",
    )
    app_store: bool = Field(True, description="Install Talk, Calendar, Contacts from the app store")


class WorkflowUser(Strict):
    name: Annotated[str, Field(pattern=WORKFLOW_USER, description="Login of a built-in OpenID user")]
    role: Literal["designer", "clerk"] = Field(description="designer: models processes; clerk: works on tasks")


class OpenIdConfig(Strict):
    provider: Literal["builtin", "external"] = Field(
        description="builtin: the engine's own demo provider (lab only); external: an OpenID Connect provider"
    )
    issuer: str | None = Field(None, pattern=HTTPS_URL, description="external: the provider's issuer URL")
    client_id: str | None = Field(None, pattern=CLIENT_ID, description="external: client id registered there")
    users: list[WorkflowUser] = Field(default_factory=list, description="builtin: users egov6 generates")

    @model_validator(mode="after")
    def _provider(self) -> OpenIdConfig:
        if self.provider == "external" and not (self.issuer and self.client_id):
            raise ValueError("an external provider needs issuer and client_id (the secret comes from the environment)")
        if self.provider == "builtin" and not self.users:
            raise ValueError("the built-in provider needs at least one user")
        return self


class WorkflowConfig(Strict):
    version: str = Field("3.0.0", pattern=VERSION, description="SpiffArena release installed")
    engine: ReleaseArchive = Field(description="SpiffArena release (backend, frontend)")
    connector_command: ReleaseArchive = Field(description="spiffworkflow-connector-command (not on PyPI)")
    modeler: ReleaseArchive | None = Field(
        None, description="bpmn-js-spiffworkflow npm tarball when the frontend's git dependency is out of reach"
    )
    openid: OpenIdConfig = Field(description="Where the engine's users sign in")
    workers: int = Field(2, ge=1, le=32, description="API server worker processes")


class TlsConfig(Strict):
    mode: Literal["acme"] = Field(
        description="acme: certbot on each service host, from Let's Encrypt (lab stacks: the lab's own Pebble)"
    )
    acme_email: str | None = Field(None, pattern=EMAIL, max_length=254, description="acme: address for expiry notices")


class StackConfig(Strict):
    environment: Environment = Field(description="lab: local hosts; staging and production: Hetzner Cloud")
    name: Annotated[str, Field(pattern=SLUG, description="Prefix of every resource and host name")]
    owner: Annotated[str, Field(pattern=SLUG, description="Owner label on every resource (the cooperation)")]
    cooperation: CooperationConfig = Field(description="Names of the cooperation and its services")
    towns: list[Town] = Field(min_length=1, description="The towns of the cooperation (one entry per town)")
    lead_town: str = Field(description="Name of the town that leads the cooperation (one of towns)")
    domain: Annotated[
        str,
        Field(pattern=DNS_NAME, max_length=253, description="DNS zone the stack creates; delegate it to Hetzner DNS"),
    ]
    dns: DnsConfig = Field(DnsConfig(), description="Names of the services inside domain")
    admins: list[Admin] = Field(min_length=1, description="Personal admin accounts on every host")
    admin_ranges: list[IPvAnyNetwork] = Field(
        min_length=1,
        description="Public addresses (CIDR) the admins connect from, e.g. the town halls' Internet egress: "
        "SSH is open to these only",
    )
    hosts: dict[Role, HostGroup] = Field(description="Host groups by role: cloud, flow and (lab) backup")
    network: NetworkConfig = Field(description="The stack's private network")
    backup: BackupConfig = Field(description="Where and when backups are made")
    turn: TurnConfig = Field(TurnConfig(), description="TURN server for Talk")
    encryption: EncryptionConfig = Field(description="Encryption of the data at rest")
    nextcloud: NextcloudConfig = Field(description="The club cloud (Nextcloud)")
    workflow: WorkflowConfig | None = Field(
        None, description="The workflow engine (SpiffArena); required with flow hosts"
    )
    tls: TlsConfig = Field(description="Where the services' certificates come from")
    processing: ProcessingConfig = Field(description="Who is responsible: feeds the Art. 30 record")
    allow_locations_outside_germany: bool = Field(
        False, description="Allow hel1 (Finland, EU); never outside the EU (LOC-01)"
    )
    protection: bool | None = Field(None, description="Delete/rebuild protection; default on in production")
    smtp: SmtpConfig | None = Field(
        None, description="The mail relay for invitations (lab stacks: the lab's SMTP sink when absent)"
    )
    lab: LabConfig | None = Field(None, description="Lab settings (lab stacks only)")

    @field_validator("admin_ranges")
    @classmethod
    def _no_world(cls, value: list[IPvAnyNetwork]) -> list[IPvAnyNetwork]:
        for net in value:
            if net.prefixlen == 0:
                raise ValueError(f"{net} opens SSH to the whole Internet; name the admin ranges")
        return value

    @property
    def protected(self) -> bool:
        return self.protection if self.protection is not None else self.environment == "production"

    def fqdn(self, service: Literal["cloud", "flow"]) -> str:
        return f"{getattr(self.dns, service)}.{self.domain}"


def semantic_problems(cfg: StackConfig) -> list[tuple[str, str]]:
    """Checks across keys that one field's validator cannot see; each problem is (key path, reason)."""
    problems: list[tuple[str, str]] = []
    names = [town.name for town in cfg.towns]
    if cfg.lead_town not in names:
        problems.append(("lead_town", f"{cfg.lead_town!r} is not one of the declared towns {names}"))
    for field, values in (("towns", [t.slug for t in cfg.towns]), ("admins", [a.name for a in cfg.admins])):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            problems.append((field, f"duplicate names: {', '.join(dupes)}"))
    for role in ("cloud", "flow"):
        if role not in cfg.hosts:
            problems.append((f"hosts.{role}", "missing: every stack runs the cloud and the flow hosts"))
    if "cloud" in cfg.hosts and cfg.hosts["cloud"].count > 1:
        # More cloud hosts would be separate Nextcloud installations with the service name on the first only.
        problems.append(("hosts.cloud.count", "one Nextcloud per stack: scale-out across cloud hosts is not designed"))
    if cfg.backup.target == "host" and "backup" not in cfg.hosts:
        problems.append(("hosts.backup", "missing: backup.target is 'host' but no backup host is declared"))
    if cfg.backup.target == "storage_box" and "backup" in cfg.hosts:
        problems.append(("hosts.backup", "declared, but backup.target is 'storage_box' (no backup host)"))
    if cfg.environment == "lab" and cfg.lab is None:
        problems.append(("lab", "missing: a lab stack needs the bridge settings"))
    if cfg.environment != "lab" and cfg.lab is not None:
        problems.append(("lab", f"only lab stacks have lab settings, this one is {cfg.environment!r}"))
    # The first address is the gateway (Hetzner) or the bridge (lab); hosts start at the 10th.
    capacity = cfg.network.subnet.num_addresses - 11
    wanted = sum(group.count for group in cfg.hosts.values())
    if wanted > capacity:
        problems.append(("network.subnet", f"{cfg.network.subnet} holds {capacity} hosts, {wanted} declared"))
    return problems + _encryption_problems(cfg) + _service_problems(cfg)


def _encryption_problems(cfg: StackConfig) -> list[tuple[str, str]]:
    """No stack may end up with neither LUKS volumes nor Nextcloud's server-side encryption."""
    if cfg.encryption.at_rest == "none" and "cloud" in cfg.hosts:
        return [("encryption.at_rest", "the cloud keeps the clubs' personal data: declare luks (volumes) or "
                 "server_side (Nextcloud), never none (GDPR Art. 32)")]  # fmt: skip
    if cfg.environment == "lab" and cfg.encryption.at_rest == "luks":
        return [("encryption.at_rest", "lab hosts cannot open LUKS volumes (no device-mapper in a container): "
                 "declare server_side")]  # fmt: skip
    return []


def _service_problems(cfg: StackConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if cfg.turn.enabled and not cfg.turn.relay_max - cfg.turn.relay_min >= 100:
        problems.append(("turn", "relay port range is too small for a video call (fewer than 100 ports)"))
    if cfg.tls.mode == "acme" and not cfg.tls.acme_email:
        problems.append(("tls.acme_email", "required for acme (expiry notices)"))
    if cfg.environment == "production" and cfg.nextcloud.source != "upstream":
        problems.append(("nextcloud.source", "production installs the upstream release"))
    if "flow" in cfg.hosts and cfg.workflow is None:
        problems.append(("workflow", "flow hosts are declared, but not the workflow engine they run"))
    if cfg.workflow and cfg.workflow.openid.provider == "builtin" and cfg.environment != "lab":
        problems.append(("workflow.openid.provider", "the built-in OpenID provider is for the lab only"))
    if cfg.workflow and cfg.environment == "production" and cfg.workflow.engine.source != "upstream":
        problems.append(("workflow.engine.source", "production installs the upstream release"))
    if len(cfg.towns) > 1 and not cfg.processing.joint_controllership:
        problems.append(
            (
                "processing.joint_controllership",
                "missing: several towns decide together on this processing (Art. 26 GDPR); name their arrangement",
            )
        )
    if cfg.processing.dpa_reviewed < cfg.processing.dpa_signed:
        problems.append(("processing.dpa_reviewed", "review date lies before the signing date"))
    return problems
