"""Builds the report as plain data (rendered by :mod:`egov6.audit.render`) from the stack file alone.

Only whitelisted facts of each resource enter the report (type, location, protection, labels): secrets cannot
leak through a property nobody thought of.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import subprocess
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from egov6 import __version__
from egov6.audit.catalogue import (
    Contacted,
    backup_facts,
    contacted_services,
    data_categories,
    measures_for,
    services,
)
from egov6.clubs.registry import ClubRegistry, load_registry
from egov6.config.loader import load_stack_mapping, read_stack_file, repo_root, stack_name
from egov6.config.schema import GERMAN_LOCATIONS, Contact, StackConfig
from egov6.declared import Declaration
from egov6.policies import evaluate_policies
from egov6.topology import Topology, build_topology

EU_LOCATIONS = GERMAN_LOCATIONS | {"hel1"}
SHOWN_LABELS = (
    "stack",
    "environment",
    "owner",
    "role",
    "data-classification",
    "residency",
    "encryption",
    "purpose",
)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo_root()), *args], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _toolkit() -> dict[str, Any]:
    """The toolkit commit, with a note when the checkout held uncommitted changes (then the commit alone does
    not describe the code that ran)."""
    return {
        "commit": _git("rev-parse", "HEAD") or "unknown",
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def provenance(path: Path) -> dict[str, Any]:
    """Which declaration a report shows: the stack file (as named inside the repository, or as given when it
    lives elsewhere) and its SHA-256."""
    resolved = path.resolve()
    root = repo_root().resolve()
    source = str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)
    return {"source": source, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


# journald's time units (systemd.time(7)) as a person reads them.
_TIME_UNITS = {"day": "days", "d": "days", "week": "weeks", "w": "weeks", "month": "months", "M": "months",
               "year": "years", "y": "years"}  # fmt: skip


def _journal_retention() -> str:
    """The journal's retention as enforced by the base role (``90day``), written for people (``90 days``)."""
    defaults = yaml.safe_load((repo_root() / "playbooks/roles/base/defaults/main.yml").read_text(encoding="utf-8"))
    raw = str(defaults["base_journald_max_retention"])
    match = re.fullmatch(r"(\d+)\s*([A-Za-z]+)", raw)
    if match and match.group(2) in _TIME_UNITS:
        return f"{match.group(1)} {_TIME_UNITS[match.group(2)]}"
    return raw


def _each_once(subjects: list[str]) -> list[str]:
    """Data subjects named once, in the order first met ("club members, people named in …" and "club members")."""
    names = [name.strip() for text in subjects for name in text.split(",")]
    return list(dict.fromkeys(name for name in names if name and name != "all of the above"))


def resources(declaration: Declaration) -> list[dict[str, Any]]:
    rows = []
    for res in declaration.resources:
        if not res.type.startswith(("hcloud:", "random:")):
            continue  # components are grouping only
        props = res.props
        rows.append(
            {
                "type": res.kind,
                "name": res.name,
                "location": props.get("location") or props.get("networkZone") or "",
                "delete_protection": bool(props.get("deleteProtection")),
                "rebuild_protection": bool(props.get("rebuildProtection")),
                "labels": {k: v for k, v in res.labels.items() if k in SHOWN_LABELS},
            }
        )
    return rows


def exposure(topology: Topology) -> list[dict[str, Any]]:
    rows = []
    for host in topology.hosts:
        for rule in topology.rules[host.role]:
            if rule.direction != "in":
                continue
            rows.append(
                {
                    "host": host.name,
                    "role": host.role,
                    "protocol": rule.protocol,
                    "port": rule.port or "-",
                    "from": ", ".join(rule.peers),
                    "scope": rule.scope,
                    "description": rule.description,
                }
            )
    return rows


def transfers(declaration: Declaration) -> dict[str, Any]:
    """Checked, not assumed: every declared location and network zone against the EU."""
    outside = [
        {"resource": r.name, "location": r.props.get("location")}
        for r in declaration.resources
        if r.props.get("location") and r.props["location"] not in EU_LOCATIONS
    ]
    zones = {r.props["networkZone"] for r in declaration.resources if r.props.get("networkZone")}
    outside += [{"resource": "network", "location": z} for z in zones if z != "eu-central"]
    locations = sorted({str(r.props["location"]) for r in declaration.resources if r.props.get("location")})
    return {
        "locations": locations,
        "outside_eu": outside,
        "verdict": "none" if not outside else "TRANSFERS FOUND",
    }


def _contact(contact: Contact) -> str:
    address = f", {contact.address}" if contact.address else ""
    return f"{contact.name}{address} ({contact.email})"


def _third_country(contacted: list[Contacted]) -> str:
    outside = [c for c in contacted if c.third_country]
    if not outside:
        return "none"
    names = "; ".join(f"{c.name} ({c.country}) receives {c.receives}" for c in outside)
    return f"no data of the data subjects; {names}. Basis of the transfer: to be assessed by the DPO"


def processing_register(topology: Topology, categories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GDPR Art. 30(1): one record per service, ready to copy into the municipality's register."""
    cfg = topology.config
    towns = ", ".join(t.name for t in cfg.towns)
    named = services(cfg)
    joint_controllers = [f"{t.name}, {t.address}" if t.address else f"{t.name} (address not declared)"
                         for t in cfg.towns]  # fmt: skip
    records = []
    for role in topology.roles:
        mine = [c for c in categories if c["service"] in (role, "all")]
        contacted = contacted_services(cfg, role)
        records.append(
            {
                "service": named[role],
                "controller": _contact(cfg.processing.controller) + f", jointly for {towns}",
                "joint_controllership": cfg.processing.joint_controllership or "",
                "joint_controllers": joint_controllers,
                "dpo": _contact(cfg.processing.dpo),
                "purposes": sorted({c["purpose"] for c in mine}),
                "data_subjects": _each_once([c["subjects"] for c in mine]),
                "data_categories": [c["name"] for c in mine],
                "recipients": f"processor {cfg.processing.processor.name} (hosting, Art. 28 agreement of "
                f"{cfg.processing.dpa_signed})",
                "contacted": [asdict(c) for c in contacted],
                "third_country_transfers": _third_country(contacted),
                "retention": {c["name"]: c["retention"] for c in mine},
                "toms": "see the measures section of this report (GDPR Art. 32)",
            }
        )
    return records


def club_counts(cfg: StackConfig, registry: ClubRegistry, source: str) -> dict[str, Any]:
    """Clubs per town and state (counts only: the registry holds no personal data) and the retention."""
    counts = Counter((club.town, club.state) for club in registry.clubs)
    return {
        "registry": source,
        "retention_days": cfg.nextcloud.club_retention_days,
        "towns": [
            {"town": t.name, "active": counts[t.slug, "active"], "offboarded": counts[t.slug, "offboarded"]}
            for t in cfg.towns
        ],
    }


SITE = "playbooks/site.yml"
ROLE_PATH = re.compile(r"^playbooks/roles/([^/]+)/")


def applied_roles(site: Path) -> set[str]:
    """The roles the converge applies: each play's roles and the roles its tasks include."""
    applied: set[str] = set()
    for play in yaml.safe_load(site.read_text(encoding="utf-8")) or []:
        for role in play.get("roles", []):
            applied.add(role if isinstance(role, str) else role.get("role", role.get("name", "")))
        for task in play.get("tasks", []):
            included = task.get("ansible.builtin.include_role") or task.get("include_role") or {}
            applied.add(included.get("name", ""))
    return applied - {""}


def _enforced(evidence: list[dict[str, Any]], applied: set[str]) -> dict[str, str]:
    """An implemented measure stays implemented only while its evidence exists and its roles are applied."""
    missing = [e["path"] for e in evidence if not e["exists"]]
    roles = sorted({m.group(1) for e in evidence if (m := ROLE_PATH.match(e["path"]))})
    unapplied = [r for r in roles if r not in applied]
    if not missing and not unapplied:
        return {}
    reasons = [f"role {r} is not applied by {SITE}" for r in unapplied]
    reasons += [f"evidence {p} is missing" for p in missing]
    return {"status": "declared, not enforced", "note": "; ".join(reasons)}


def build_report(
    data: dict[str, Any],
    declaration: Declaration,
    source: str,
    origin: dict[str, Any] | None = None,
    clubs: ClubRegistry | None = None,
) -> dict[str, Any]:
    """The report's data; ``origin`` is the stack file's :func:`provenance` (absent for generated stacks)."""
    cfg = load_stack_mapping(data, source)
    topology = build_topology(cfg, declaration.stack)
    categories = [asdict(c) for c in data_categories(cfg, _journal_retention())]
    root = repo_root()
    measures = []
    applied = applied_roles(root / SITE)
    for measure in measures_for(cfg):
        evidence = [{"path": p, "exists": (root / p).exists()} for p in measure.evidence]
        found = asdict(measure)
        if measure.status == "implemented":
            found.update(_enforced(evidence, applied))
        measures.append({**found, "evidence": evidence})
    policy_results = [
        {
            "id": r.rule.id,
            "name": r.rule.name,
            "severity": r.rule.severity,
            "reference": r.rule.reference,
            "passed": r.passed,
            "violations": [f"{v.resource}: {v.message}" for v in r.violations],
        }
        for r in evaluate_policies(declaration.resources)
    ]
    review_due = cfg.processing.dpa_reviewed + dt.timedelta(days=365)
    return {
        "meta": {
            "stack": declaration.stack,
            "cooperation": cfg.cooperation.name,
            "environment": cfg.environment,
            "generated": dt.date.today().isoformat(),
            "egov6": __version__,
            "source": source,
            "sha256": "",
            **_toolkit(),
            **(origin or {}),
        },
        "towns": [t.name for t in cfg.towns],
        "lead_town": cfg.lead_town,
        "domain": cfg.domain,
        "network": {"ip_range": str(cfg.network.ip_range), "subnet": str(cfg.network.subnet)},
        "hosts": [
            {
                "name": h.name,
                "role": h.role,
                "location": h.location,
                "private_ip": h.private_ip,
                "server_type": h.server_type,
                "volumes": [f"{v.purpose} {v.size_gb} GB" for v in h.volumes],
            }
            for h in topology.hosts
        ],
        "backup": backup_facts(cfg),
        "encryption_at_rest": cfg.encryption.at_rest,
        "resources": resources(declaration),
        "exposure": exposure(topology),
        "data_categories": categories,
        "processors": [
            {
                "name": cfg.processing.processor.name,
                "role": "hosting (Hetzner Cloud, German data centres), Storage Box for backups",
                "address": cfg.processing.processor.address,
                "agreement": f"Art. 28 data-processing agreement signed {cfg.processing.dpa_signed}, "
                f"last reviewed {cfg.processing.dpa_reviewed}, next review due {review_due}",
                "review_overdue": review_due < dt.date.today(),
            }
        ],
        "transfers": transfers(declaration),
        "measures": measures,
        "policies": policy_results,
        "processing_register": processing_register(topology, categories),
        "admin_ranges": [str(ipaddress.ip_network(r)) for r in cfg.admin_ranges],
        "clubs": club_counts(cfg, clubs or ClubRegistry(), f"clubs/{declaration.stack}.yaml"),
    }


def report_for_stack(path: Path) -> dict[str, Any]:
    from egov6.hetzner.evaluate import evaluate

    data = read_stack_file(path)
    cfg = load_stack_mapping(data, str(path))  # clear errors before anything is evaluated
    registry = load_registry(stack_name(path), cfg)
    declaration = evaluate(data, stack_name(path))
    return build_report(data, declaration, path.name, provenance(path), registry)
