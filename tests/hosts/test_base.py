"""The base role on every host: services, SSH, firewall, accounts, updates, logging (BSI SYS.1.3)."""

from __future__ import annotations

import errno
import ipaddress
import re
from typing import Any

import pytest

from tests.hosts.conftest import skip_if_unsupported


def test_no_failed_units(host: Any) -> None:
    failed = host.run("systemctl --failed --no-legend --plain").stdout.strip()
    assert failed == "", f"failed units: {failed}"


@pytest.mark.parametrize("service", ["ssh", "nftables", "fail2ban", "unattended-upgrades", "cron"])
def test_baseline_services_run(host: Any, service: str) -> None:
    unit = host.service(service)
    assert unit.is_enabled, f"{service} is not enabled"
    if service != "nftables":  # a oneshot that loads the ruleset and exits
        assert unit.is_running, f"{service} is not running"


def test_hostname_and_timezone(host: Any, inventory_vars: dict[str, Any]) -> None:
    assert host.check_output("hostname") == inventory_vars["inventory_hostname"]
    assert host.file("/etc/localtime").linked_to.endswith("Europe/Berlin")


def test_the_login_banner_names_the_cooperation_of_the_stack(host: Any, inventory_vars: dict[str, Any]) -> None:
    for path in ("/etc/issue", "/etc/issue.net"):
        assert inventory_vars["egov6_cooperation"] in host.file(path).content_string


def _sshd_effective(host: Any) -> dict[str, str]:
    with host.sudo():
        lines = host.check_output("sshd -T").splitlines()
    return {key: value for key, _, value in (line.partition(" ") for line in lines)}


def test_sshd_effective_config_is_hardened(host: Any) -> None:
    cfg = _sshd_effective(host)
    assert cfg["permitrootlogin"] == "no"
    assert cfg["passwordauthentication"] == "no"
    assert cfg["kbdinteractiveauthentication"] == "no"
    assert cfg["authenticationmethods"] == "publickey"
    assert cfg["x11forwarding"] == "no"
    assert int(cfg["maxauthtries"]) <= 3
    for algorithm in cfg["kexalgorithms"].split(","):
        assert "nistp" not in algorithm and "sha1" not in algorithm, algorithm
    for mac in cfg["macs"].split(","):
        assert "sha1" not in mac and "md5" not in mac and mac.endswith("-etm@openssh.com"), mac
    for cipher in cfg["ciphers"].split(","):
        assert "cbc" not in cipher and "3des" not in cipher, cipher
    assert not host.file("/etc/ssh/ssh_host_ecdsa_key").exists


def test_password_login_is_refused(host: Any, inventory_vars: dict[str, Any]) -> None:
    """An SSH client offering only a password is turned away before any password prompt."""
    address = inventory_vars["ansible_host"]
    probe = host.backend.run_local(  # from the controller, like an attacker would
        "ssh -o BatchMode=yes -o PreferredAuthentications=password -o PubkeyAuthentication=no "
        f"{inventory_vars['ansible_ssh_common_args']} -o ConnectTimeout=5 "  # the pinned host key
        f"nobody@{address} true"
    )
    assert probe.rc == 255
    assert "Permission denied (publickey)" in probe.stderr


def test_admin_accounts_have_keys_and_no_password(host: Any, inventory_vars: dict[str, Any]) -> None:
    admins = [admin["name"] for admin in inventory_vars["base_admins"]]
    with host.sudo():
        members = host.check_output("getent group egov6-admins").split(":")[3].split(",")
    assert sorted(members) == sorted(admins), "the admin group holds exactly the stack's admins"
    for admin in inventory_vars["base_admins"]:
        user = host.user(admin["name"])
        assert user.exists, admin["name"]
        with host.sudo():
            assert "(ALL) NOPASSWD: ALL" in host.check_output(f"sudo -l -U {admin['name']}"), admin["name"]
        with host.sudo():
            keys = host.file(f"{user.home}/.ssh/authorized_keys").content_string.strip().splitlines()
            shadow = host.check_output(f"getent shadow {admin['name']}").split(":")[1]
        assert keys == [admin["ssh_key"]]
        assert shadow.startswith("!"), f"{admin['name']} has a usable password"
    with host.sudo():
        assert host.check_output("getent shadow root").split(":")[1].startswith("!")


def test_uids_and_gids_are_unique(host: Any) -> None:
    uids = [line.split(":")[2] for line in host.file("/etc/passwd").content_string.splitlines()]
    gids = [line.split(":")[2] for line in host.file("/etc/group").content_string.splitlines()]
    assert len(uids) == len(set(uids))
    assert len(gids) == len(set(gids))


def _ruleset(host: Any) -> str:
    with host.sudo():
        return str(host.check_output("nft list ruleset"))


def _chain(ruleset: str, name: str) -> str:
    return ruleset.split(f"chain {name} {{")[1].split("\n\t}", maxsplit=1)[0]


def test_egress_allows_only_the_declared_ways_out(host: Any, inventory_vars: dict[str, Any]) -> None:
    """NET-02: the output chain drops (and logs) all but the role's declared destinations."""
    output = _chain(_ruleset(host), "output")
    assert "policy drop" in output and "log prefix" in output
    declared = {(r["protocol"], str(r["port"])) for r in inventory_vars["base_firewall_outbound"] if r["port"]}
    assert set(re.findall(r"\b(tcp|udp) dport (\d+(?:-\d+)?) accept", output)) == declared
    # Tried for real: a port nobody declared is dropped (the connection times out instead of being refused) ...
    bridge = str(next(ipaddress.ip_network(inventory_vars["egov6_subnet"]).hosts()))
    probe = (
        "import socket,sys; s=socket.socket(); s.settimeout(3); sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))"
    )
    undeclared = "2999"
    assert ("tcp", undeclared) not in declared
    blocked = host.run(f"python3 -c '{probe}' {bridge} {undeclared}")
    assert blocked.rc == errno.EAGAIN or "timed out" in blocked.stderr, f"egress to {bridge}:{undeclared} not dropped"
    # ... while a declared one gets through (the lab's apt cache on the bridge).
    apt = [r for r in inventory_vars["base_firewall_outbound"] if bridge + "/32" in r["destinations_v4"]]
    for rule in apt:
        assert host.run(f"python3 -c '{probe}' {bridge} {rule['port']}").rc == 0, rule


def test_nftables_ruleset_equals_the_declaration(host: Any, inventory_vars: dict[str, Any]) -> None:
    ruleset = _ruleset(host)
    assert "policy drop" in ruleset.split("chain input")[1].split("}")[0]
    declared: set[tuple[str, str]] = set()
    for rule in inventory_vars["base_firewall_inbound"]:
        if rule["protocol"] != "icmp":
            declared.add((rule["protocol"], str(rule["port"])))
    found = set(re.findall(r"\b(tcp|udp) dport (\d+(?:-\d+)?) accept", _chain(ruleset, "input")))
    assert found == declared
    ssh = [line.strip() for line in _chain(ruleset, "input").splitlines() if "tcp dport 22 accept" in line]
    for line in ssh:
        assert "saddr" in line, f"SSH accepted from anywhere: {line}"
    for admin_range in inventory_vars["base_admin_ranges"]:
        net = admin_range.removesuffix("/32")
        assert any(net in line for line in ssh), f"{admin_range} cannot reach SSH"


def test_only_declared_ports_listen_outside_loopback(host: Any, inventory_vars: dict[str, Any]) -> None:
    declared = set()
    for rule in inventory_vars["base_firewall_inbound"]:
        if rule["protocol"] == "icmp":
            continue
        low, _, high = str(rule["port"]).partition("-")
        declared |= {(rule["protocol"], p) for p in range(int(low), int(high or low) + 1)}
    with host.sudo():
        sockets = host.socket.get_listening_sockets()
    for spec in sockets:
        proto, _, rest = spec.partition("://")
        address, _, port = rest.rpartition(":")
        if proto not in ("tcp", "udp") or address in ("127.0.0.1", "::1") or address.startswith("127."):
            continue
        assert (proto, int(port)) in declared, f"{spec} listens but is not declared"


def test_fail2ban_guards_sshd(host: Any) -> None:
    with host.sudo():
        status = host.check_output("fail2ban-client status sshd")
    assert "Currently banned" in status


def test_security_updates_are_automatic(host: Any) -> None:
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1"' in periodic
    origins = host.file("/etc/apt/apt.conf.d/52egov6-unattended-upgrades").content_string
    assert "Debian-Security" in origins
    with host.sudo():
        dry = host.run("unattended-upgrade --dry-run --debug 2>&1 | head -50")
    assert "Allowed origins are" in dry.stdout and "Debian-Security" in dry.stdout


def test_apt_sources_are_signed_debian_only(host: Any) -> None:
    sources = host.file("/etc/apt/sources.list").content_string
    assert "-security" in sources
    with host.sudo():
        update = host.run("apt-get update -q")
    assert update.rc == 0, update.stderr
    assert "NO_PUBKEY" not in update.stderr and "not signed" not in update.stderr


def test_journal_is_persistent_with_retention(host: Any) -> None:
    conf = host.file("/etc/systemd/journald.conf.d/egov6.conf").content_string
    assert "Storage=persistent" in conf and "MaxRetentionSec=" in conf
    assert host.file("/var/log/journal").is_directory
    with host.sudo():
        assert host.run("journalctl --header -q | grep -q /var/log/journal").rc == 0


def test_network_sysctls(host: Any) -> None:
    assert host.sysctl("net.ipv4.conf.all.accept_redirects") == 0
    assert host.sysctl("net.ipv4.tcp_syncookies") == 1


def test_kernel_sysctls(host: Any, lab_skips: dict[str, str]) -> None:
    skip_if_unsupported(lab_skips, "sysctl-kernel")
    assert host.sysctl("kernel.randomize_va_space") == 2
    assert host.sysctl("fs.suid_dumpable") == 0


def test_aslr_is_on(host: Any) -> None:
    # HOST-02 holds in the lab too: the shared kernel's setting is what the processes get.
    assert host.file("/proc/sys/kernel/randomize_va_space").content_string.strip() == "2"


def test_auditd(host: Any, lab_skips: dict[str, str]) -> None:
    skip_if_unsupported(lab_skips, "auditd")
    assert host.service("auditd").is_running


def test_time_is_synchronised(host: Any, lab_skips: dict[str, str]) -> None:
    skip_if_unsupported(lab_skips, "time-sync")
    assert host.service("chrony").is_running
    assert "Leap status     : Normal" in host.check_output("chronyc tracking")
