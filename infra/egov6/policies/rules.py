"""One validator per rule. Each takes the declared resources and returns its violations.

The rules read only what is declared (resource inputs and labels), so they run the same on the offline
evaluation (``egov6 check``, the audit report) and inside ``pulumi preview --policy-pack`` (see ``pack.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from egov6.config.schema import GERMAN_LOCATIONS
from egov6.declared import DeclaredResource
from egov6.topology import INTERNAL_PORTS

Severity = Literal["critical", "high", "medium"]
REQUIRED_LABELS = ("stack", "owner", "role", "data-classification")
# hcloud resource kinds that take labels (ZoneRrset labels are optional metadata on records).
LABELLED_KINDS = {
    "Network", "Firewall", "SshKey", "PlacementGroup", "PrimaryIp", "Server", "Volume", "Zone",
    "StorageBox", "StorageBoxSubaccount",
}  # fmt: skip
SUPPORTED_IMAGES = {"debian-12", "debian-13"}
# The marker Pulumi puts on secret values in serialized properties.
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 a public marker of Pulumi's wire format, no secret
SECRET_PROPS = ("password",)
UNKNOWN_SIG = "egov6-unknown-at-preview"
UNKNOWN: dict[str, str] = {UNKNOWN_SIG: "a value Pulumi only knows after the update (first preview)"}


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    message: str


@dataclass(frozen=True)
class Rule:
    id: str  # catalogue id, e.g. NET-01
    name: str  # kebab-case policy name
    title: str
    severity: Severity
    reference: str
    check: Callable[[Sequence[DeclaredResource]], Iterable[tuple[str, str]]]

    def __call__(self, resources: Sequence[DeclaredResource]) -> list[Violation]:
        return [Violation(self.id, name, message) for name, message in self.check(resources)]


@dataclass(frozen=True)
class PolicyResult:
    rule: Rule
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations


def _of(resources: Iterable[DeclaredResource], *kinds: str) -> Iterator[DeclaredResource]:
    return (r for r in resources if r.kind in kinds)


def _inbound(resources: Sequence[DeclaredResource]) -> Iterator[tuple[DeclaredResource, dict[str, Any]]]:
    for fw in _of(resources, "Firewall"):
        for rule in fw.props.get("rules") or []:
            if rule.get("direction") == "in":
                yield fw, rule


def _port_range(port: str | None) -> range:
    if not port or port == "any":
        return range(1, 65536)
    low, _, high = str(port).partition("-")
    return range(int(low), int(high or low) + 1)


def _anywhere(peers: Iterable[str]) -> bool:
    return any(p.endswith("/0") for p in peers)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def is_unknown(value: Any) -> bool:
    """A value still unknown at a preview: a check that needs it is left to the offline evaluation."""
    return isinstance(value, dict) and UNKNOWN_SIG in value


def revealed(value: Any) -> Any:
    """A secret's value, for rules that must look inside one (cloud-init user-data carries host keys); no rule
    ever puts a value into its message."""
    return value.get("value") if is_secret(value) else value


def check_locations(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for res in resources:
        location = res.props.get("location")
        if location is not None and location not in GERMAN_LOCATIONS:
            allowed_eu = location == "hel1" and res.labels.get("residency") == "eu"
            if not allowed_eu:
                yield res.name, f"location {location!r} is outside Germany (allowed: fsn1, nbg1)"
        zone = res.props.get("networkZone")
        if zone is not None and zone != "eu-central":
            yield res.name, f"network zone {zone!r} is outside the EU"


def check_backup_location(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    server_locations = {s.props.get("location") for s in _of(resources, "Server")}
    boxes = list(_of(resources, "StorageBox"))
    production = any(s.labels.get("environment") == "production" for s in _of(resources, "Server"))
    if production and not boxes:
        yield "stack", "production declares no off-site backup target (Storage Box)"
    for box in boxes:
        if box.props.get("location") in server_locations:
            yield box.name, f"backups in {box.props.get('location')!r}, the same location as the servers"


def check_firewall_attached(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for server in _of(resources, "Server"):
        if not server.props.get("firewallIds"):
            yield server.name, "server has no Hetzner firewall"


def check_ssh_ranges(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for fw, rule in _inbound(resources):
        ssh = rule.get("protocol") == "tcp" and 22 in _port_range(rule.get("port"))
        if ssh and _anywhere(rule.get("sourceIps") or []):
            yield fw.name, f"SSH (port {rule.get('port')}) is open to the whole Internet"


def check_internal_ports(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for fw, rule in _inbound(resources):
        ports = _port_range(rule.get("port")) if rule.get("protocol") in ("tcp", "udp") else range(0)
        for port, service in INTERNAL_PORTS.items():
            if port in ports:
                yield fw.name, f"{service} (port {port}) is reachable from outside ({rule.get('port')})"


def check_egress(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for fw in _of(resources, "Firewall"):
        if not any(rule.get("direction") == "out" for rule in fw.props.get("rules") or []):
            yield fw.name, "no outbound rule: Hetzner allows all egress until one exists"


def check_encryption(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for volume in _of(resources, "Volume"):
        personal = volume.labels.get("data-classification") == "personal"
        if personal and volume.labels.get("encryption") not in ("luks", "server-side"):
            yield volume.name, "volume with personal data is not encrypted at rest (luks or server-side)"


def check_protection(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    wanted = {"Server": ("deleteProtection", "rebuildProtection"), "Volume": ("deleteProtection",),
              "StorageBox": ("deleteProtection",), "Network": ("deleteProtection",)}  # fmt: skip
    for res in _of(resources, *wanted):
        if res.labels.get("environment") != "production":
            continue
        missing = [flag for flag in wanted[res.kind] if not res.props.get(flag)]
        if missing:
            yield res.name, f"production {res.kind} without {', '.join(missing)}"


def check_labels(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for res in _of(resources, *LABELLED_KINDS):
        missing = [label for label in REQUIRED_LABELS if not res.labels.get(label)]
        if missing:
            yield res.name, f"missing labels: {', '.join(missing)}"


def check_backup_access(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for res in _of(resources, "StorageBox", "StorageBoxSubaccount"):
        access = res.props.get("accessSettings") or {}
        if access.get("reachableExternally", True):
            yield res.name, "backup storage is reachable from outside Hetzner's network"
        opened = [p for p in ("sambaEnabled", "webdavEnabled") if access.get(p, True)]
        if opened:
            yield res.name, f"backup storage offers {', '.join(opened)}; only SSH (borg) is needed"
        if res.kind == "StorageBox" and not (res.props.get("snapshotPlan") or {}).get("maxSnapshots"):
            yield res.name, "no snapshot plan: a compromised client could destroy every backup"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and not is_secret(value):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def check_secrets(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for res in resources:
        for prop in SECRET_PROPS:
            if prop in res.props and not is_secret(res.props[prop]) and not is_unknown(res.props[prop]):
                yield res.name, f"{prop} is declared in plain text, not as a Pulumi secret"
        if any("PRIVATE KEY" in text for text in _strings(res.props)):
            yield res.name, "a private key is declared in plain text"


def check_images(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for server in _of(resources, "Server"):
        if server.props.get("image") not in SUPPORTED_IMAGES:
            yield server.name, f"image {server.props.get('image')!r} is not a supported Debian release"


def check_ssh_keys_only(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for server in _of(resources, "Server"):
        if not server.props.get("sshKeys"):
            yield server.name, "no SSH key at creation: Hetzner would mail a root password"
        user_data = revealed(server.props.get("userData"))
        if not is_unknown(user_data) and "ssh_pwauth: false" not in (user_data or ""):
            yield server.name, "cloud-init does not switch off SSH password logins"


def check_spread(resources: Sequence[DeclaredResource]) -> Iterator[tuple[str, str]]:
    for group in _of(resources, "PlacementGroup"):
        if group.props.get("type") != "spread":
            yield group.name, f"placement group type {group.props.get('type')!r}, expected 'spread'"
    for server in _of(resources, "Server"):
        if not server.props.get("placementGroupId"):
            yield server.name, "server is in no spread placement group"


RULES: tuple[Rule, ...] = (
    Rule("LOC-01", "german-locations", "Every resource in a German location", "critical",
         "GDPR Art. 44 ff.; BSI OPS.2.2", check_locations),
    Rule("BAK-03", "backup-other-location", "Backups off the hosts, in another location", "high",
         "GDPR Art. 32(1)(c); BSI CON.3.A2/A12", check_backup_location),
    Rule("NET-01", "firewall-on-every-server", "A Hetzner firewall on every server", "critical",
         "GDPR Art. 32; BSI NET.3.2.A2/A3, SYS.1.1", check_firewall_attached),
    Rule("NET-01b", "ssh-admin-ranges-only", "SSH only from the declared admin ranges", "critical",
         "GDPR Art. 32; BSI SYS.1.3.A8, NET.3.2.A2", check_ssh_ranges),
    Rule("NET-03", "no-public-internal-ports", "Databases and the engine backend never public", "critical",
         "GDPR Art. 32; BSI NET.1.1.A4/A5, APP.4.3", check_internal_ports),
    Rule("NET-02", "egress-restricted", "Outbound traffic restricted", "medium",
         "BSI NET.3.2.A2, NET.1.1", check_egress),
    Rule("ENC-01", "encryption-at-rest", "Volumes with personal data encrypted", "high",
         "GDPR Art. 32(1)(a); BSI CON.6", check_encryption),
    Rule("AVL-01", "protection-in-production", "Delete/rebuild protection in production", "high",
         "GDPR Art. 32(1)(b); BSI SYS.1.1", check_protection),
    Rule("ACC-01", "labels-complete", "Resources labelled: stack, owner, role, classification", "medium",
         "GDPR Art. 5(2), 30", check_labels),
    Rule("BAK-04", "backup-storage-locked-down", "Backup storage SSH-only, internal, with snapshots", "high",
         "GDPR Art. 32(1)(c); BSI CON.3.A14", check_backup_access),
    Rule("ENC-02", "no-plaintext-secrets", "No secret in plain text", "critical",
         "GDPR Art. 32; BSI CON.1", check_secrets),
    Rule("PAT-02", "supported-os-image", "Only supported OS releases", "high",
         "BSI OPS.1.1.3, SYS.1.3", check_images),
    Rule("CRY-04", "ssh-keys-only", "Admin access with SSH keys only", "high",
         "BSI SYS.1.3.A8; TR-02102-4", check_ssh_keys_only),
    Rule("AVL-02", "spread-placement", "Hosts spread over physical machines", "medium",
         "GDPR Art. 32(1)(b); BSI SYS.1.1", check_spread),
)  # fmt: skip


def evaluate_policies(resources: Sequence[DeclaredResource]) -> list[PolicyResult]:
    return [PolicyResult(rule, rule(resources)) for rule in RULES]
