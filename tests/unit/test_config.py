"""The stack file schema: the shipped stacks load; broken ones are rejected naming file, key and reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from egov6.config import load_stack
from egov6.config.loader import stack_path
from egov6.errors import ConfigError


@pytest.mark.parametrize("name", ["lab", "staging", "production"])
def test_shipped_stacks_load(name: str) -> None:
    cfg = load_stack(name)
    assert cfg.environment == name
    assert {t.name for t in cfg.towns} >= {"Wächtersbach", "Bad Orb", "Birstein", "Sinntal"}
    assert cfg.lead_town == "Wächtersbach"


def test_production_is_protected_and_lab_is_not() -> None:
    assert load_stack("production").protected
    assert not load_stack("lab").protected


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


DELETE = object()


def _refused(
    production_data: dict[str, Any], write_stack: Callable[..., Path], key: str, value: Any
) -> tuple[pytest.ExceptionInfo[ConfigError], Path]:
    """The production stack with one key changed, written and loaded: the refusal and the file it names."""
    data = copy.deepcopy(production_data)
    _set(data, key, value)
    path = write_stack(data)
    with pytest.raises(ConfigError) as caught:
        load_stack(path)
    return caught, path


# (case, dotted key to change, new value, key path the error must name, words of the reason)
BROKEN: list[tuple[str, str, Any, str, str]] = [
    ("unknown top-level key", "colud", {"count": 1}, "egov6:colud", "unknown key"),
    ("unknown nested key", "hosts.cloud.volume", 10, "egov6:hosts.cloud.volume", "unknown key"),
    ("wrong type", "hosts.cloud.count", "two", "egov6:hosts.cloud.count", "integer"),
    ("location outside allowlist", "hosts.flow.location", "ash", "egov6:hosts.flow.location", "fsn1"),
    ("backup location outside allowlist", "backup.location", "sin", "egov6:backup.location", "nbg1"),
    ("bad CIDR", "admin_ranges.0", "198.51.100.0/33", "egov6:admin_ranges[0]", "network"),
    ("SSH open to the world", "admin_ranges", ["0.0.0.0/0"], "egov6:admin_ranges", "whole Internet"),
    ("public ip_range", "network.ip_range", "8.8.0.0/16", "egov6:network", "private"),
    ("subnet outside range", "network.subnet", "10.99.1.0/24", "egov6:network", "not inside"),
    ("missing admin key", "admins.0.ssh_key", DELETE, "egov6:admins[0].ssh_key", "missing"),
    ("not an ssh key", "admins.1.ssh_key", "ssh-ed25519 not-base64!", "egov6:admins[1].ssh_key", "one openssh"),
    ("ECDSA key the hardened sshd refuses", "admins.0.ssh_key", "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdH"
     "AyNTYAAAAIbmlzdHAyNTYAAABBBJ0/OkZKJyLi8K+I3oHOTUMu7zTMp9W8NuYLaRnJZOagg9NLM2L1UkJtM0LXI0irV1jMTZ8L973Nc1JwCIGz5"
     "5I= a@laptop", "egov6:admins[0].ssh_key", "ssh-ed25519, ssh-rsa"),
    ("no admins", "admins", [], "egov6:admins", "at least 1"),
    ("several towns without their Art. 26 arrangement", "processing.joint_controllership", DELETE,
     "egov6:processing.joint_controllership", "Art. 26"),
    ("duplicate admin", "admins.1.name", "akeller", "egov6:admins", "duplicate"),
    ("unknown environment", "environment", "prod", "egov6:environment", "production"),
    ("lead town not a town", "lead_town", "Gelnhausen", "egov6:lead_town", "not one of"),
    ("missing cloud host", "hosts.cloud", DELETE, "egov6:hosts.cloud", "missing"),
    ("unknown role", "hosts.mail", {"server_type": "cx22", "location": "fsn1"}, "egov6:hosts.mail", "cloud"),
    ("bad server type", "hosts.cloud.server_type", "big", "egov6:hosts.cloud.server_type", "server type"),
    ("turn range inverted", "turn.relay_max", 40000, "egov6:turn", "below relay_max"),
    ("bad encryption", "encryption.at_rest", "rot13", "egov6:encryption.at_rest", "luks"),
    ("no encryption at rest of the clubs' data", "encryption.at_rest", "none", "egov6:encryption.at_rest",
     "never none"),
    ("bad domain", "domain", "not a domain", "egov6:domain", "DNS name"),
    ("bad email", "processing.dpo.email", "nobody", "egov6:processing.dpo.email", "e-mail address"),
    ("backup host with storage box", "hosts.backup", {"server_type": "cx22", "location": "nbg1"},
     "egov6:hosts.backup", "storage_box"),
    ("lab settings on production", "lab", {"bridge": "br-x"}, "egov6:lab", "only lab stacks"),
    ("too many hosts for subnet", "hosts.flow.count", 300, "egov6:network.subnet", "holds"),
    ("two Nextcloud hosts", "hosts.cloud.count", 2, "egov6:hosts.cloud.count", "one Nextcloud per stack"),
    ("club quota over 1 TB", "nextcloud.club_quota_gb", 2048, "egov6:nextcloud.club_quota_gb", "1024"),
    ("old unsupported image", "hosts.flow.image", "ubuntu-16.04", "egov6:hosts.flow.image", "debian-12"),
    ("Debian release the roles do not support", "hosts.cloud.image", "debian-13", "egov6:hosts.cloud.image",
     "the release the roles are written and tested for"),
    ("flow hosts without an engine", "workflow", DELETE, "egov6:workflow", "flow hosts"),
    ("demo OpenID provider in production", "workflow.openid", {"provider": "builtin", "users": [
        {"name": "designer1", "role": "designer"}]}, "egov6:workflow.openid.provider", "lab only"),
    ("external provider without issuer", "workflow.openid.issuer", DELETE, "egov6:workflow.openid", "issuer"),
    ("workflow role unknown", "workflow.openid", {"provider": "builtin", "users": [
        {"name": "x1", "role": "admin"}]}, "egov6:workflow.openid.users[0].role", "designer"),
    ("engine from the vendor folder in production", "workflow.engine",
     {"source": "vendor", "archive": "spiff-arena-3.0.0.tar.zst"}, "egov6:workflow.engine.source", "upstream"),
    ("upstream engine over http", "workflow.engine.archive", "http://example.org/v3.0.0.tar.gz",
     "egov6:workflow.engine", "https"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "key", "value", "where", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_stack_is_rejected_naming_file_key_and_reason(
    case: str,
    key: str,
    value: Any,
    where: str,
    reason: str,
    production_data: dict[str, Any],
    write_stack: Callable[..., Path],
) -> None:
    caught, path = _refused(production_data, write_stack, key, value)
    assert caught.value.path == str(path)
    keys = [k for k, _ in caught.value.problems]
    assert where in keys, f"{case}: expected the key {where}, got {caught.value.problems}"
    matching = [r for k, r in caught.value.problems if k == where]
    assert any(reason.lower() in r.lower() for r in matching), f"{case}: {matching}"


def test_duplicate_host_group_is_rejected_with_line(write_stack: Callable[..., Path]) -> None:
    raw = stack_path("lab").read_text(encoding="utf-8")
    doubled = raw.replace("    flow:\n", "    cloud:\n      server_type: cx22\n      location: fsn1\n    flow:\n", 1)
    path = write_stack({}, raw=doubled)
    with pytest.raises(ConfigError) as caught:
        load_stack(path)
    (where, reason), *_ = caught.value.problems
    assert where.startswith("line ")
    assert "duplicate key 'cloud'" in reason


def test_unknown_namespace_is_rejected(write_stack: Callable[..., Path]) -> None:
    path = write_stack({}, raw="config:\n  egov:environment: lab\n")
    with pytest.raises(ConfigError) as caught:
        load_stack(path)
    assert caught.value.problems[0][0] == "egov:environment"


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_stack(tmp_path / "Pulumi.nothing.yaml")


def test_hetzner_token_key_is_not_egov6s_business(production_data: dict[str, Any], tmp_path: Path) -> None:
    import yaml

    document = {"config": {f"egov6:{k}": v for k, v in production_data.items()}}
    document["config"]["hcloud:token"] = {"secure": "v1:abc"}
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert load_stack(path).environment == "production"


HINTS: list[tuple[str, str, Any, str, str]] = [
    ("typo of a nested key", "hosts.cloud.server_tpye", "cx22", "egov6:hosts.cloud.server_tpye",
     "did you mean 'server_type'? valid keys here: count, server_type"),
    ("typo in a contact", "processing.dpo.emial", "dsb@example.de", "egov6:processing.dpo.emial",
     "did you mean 'email'?"),
    ("unknown top-level key lists the valid ones", "colud", 1, "egov6:colud", "valid keys here: environment, name"),
    ("town name as slug", "towns.1.slug", "Bad Soden-Salmünster", "egov6:towns[1].slug",
     "(e.g. 'bad-soden-salmuenster')"),
    ("umlaut in a slug", "towns.0.slug", "wächtersbach", "egov6:towns[0].slug", "(e.g. 'waechtersbach')"),
    ("e-mail says its form", "processing.controller.email", "poststelle", "egov6:processing.controller.email",
     "an e-mail address such as it@example.de"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "key", "value", "where", "hint"), HINTS, ids=[h[0] for h in HINTS])
def test_errors_say_what_is_allowed(
    case: str,
    key: str,
    value: Any,
    where: str,
    hint: str,
    production_data: dict[str, Any],
    write_stack: Callable[..., Path],
) -> None:
    caught, _path = _refused(production_data, write_stack, key, value)
    assert any(k == where and hint in r for k, r in caught.value.problems), f"{case}: {caught.value.problems}"


def test_a_lab_stack_declaring_luks_is_refused(write_stack: Callable[..., Path]) -> None:
    """Lab hosts cannot open LUKS: such a stack would end up with neither encryption."""
    raw = stack_path("lab").read_text(encoding="utf-8")
    assert "at_rest: server_side" in raw
    path = write_stack({}, raw=raw.replace("at_rest: server_side", "at_rest: luks"))
    with pytest.raises(ConfigError) as caught:
        load_stack(path)
    assert ("egov6:encryption.at_rest", "lab hosts cannot open LUKS volumes (no device-mapper in a container): "
            "declare server_side") in caught.value.problems  # fmt: skip
