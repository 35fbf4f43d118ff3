"""`egov6 audit drift STACK`: the declared firewall rules and ports against what the lab hosts really expose.

Reads each host's live nftables ruleset and listening sockets over SSH (the generated ssh config) and lists
every difference: an accepted port nobody declared, a declared port the host does not accept, a process
listening outside loopback on a port that is not declared.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egov6.errors import Egov6Error
from egov6.topology import Topology


@dataclass(frozen=True)
class Drift:
    host: str
    kind: str  # firewall-extra | firewall-missing | listening-undeclared
    detail: str


def _ssh(ssh_config: Path, host: str, command: str) -> str:
    done = subprocess.run(
        ["ssh", "-F", str(ssh_config), host, command], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise Egov6Error(f"cannot read the live state of {host}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def declared_ports(topology: Topology, role: str) -> set[tuple[str, str]]:
    return {(r.protocol, str(r.port)) for r in topology.rules[role] if r.direction == "in" and r.port}  # type: ignore[index]


def live_accepts(ruleset: dict[str, Any]) -> set[tuple[str, str]]:
    """(protocol, port) pairs that an accept rule of an input chain lets in."""
    chains = {
        (item["chain"]["table"], item["chain"]["name"])
        for item in ruleset["nftables"]
        if "chain" in item and item["chain"].get("hook") == "input"
    }
    found: set[tuple[str, str]] = set()
    for item in ruleset["nftables"]:
        rule = item.get("rule")
        if not rule or (rule["table"], rule["chain"]) not in chains:
            continue
        exprs = rule.get("expr", [])
        if not any("accept" in e for e in exprs):
            continue
        for expr in exprs:
            match = expr.get("match", {})
            left = match.get("left", {}).get("payload", {})
            if left.get("field") == "dport" and left.get("protocol") in ("tcp", "udp"):
                right = match.get("right")
                if isinstance(right, dict) and "range" in right:
                    found.add((left["protocol"], f"{right['range'][0]}-{right['range'][1]}"))
                elif isinstance(right, dict) and "set" in right:
                    found |= {(left["protocol"], str(p)) for p in right["set"]}
                else:
                    found.add((left["protocol"], str(right)))
    return found


def _in(port: int, declared: set[tuple[str, str]], protocol: str) -> bool:
    for proto, spec in declared:
        low, _, high = spec.partition("-")
        if proto == protocol and int(low) <= port <= int(high or low):
            return True
    return False


def live_listeners(ss_output: str) -> set[tuple[str, int, str]]:
    listeners = set()
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        protocol, local = fields[0], fields[4]
        address, _, port = local.rpartition(":")
        address = address.strip("[]").split("%")[0]
        if address in ("127.0.0.1", "::1") or address.startswith("127."):
            continue
        process = fields[6] if len(fields) > 6 else ""
        listeners.add((protocol, int(port), process))
    return listeners


def detect(topology: Topology, ssh_config: Path) -> list[Drift]:
    drifts: list[Drift] = []
    for host in topology.hosts:
        declared = declared_ports(topology, host.role)
        ruleset = json.loads(_ssh(ssh_config, host.name, "sudo nft -j list ruleset"))
        accepted = live_accepts(ruleset)
        drifts += [Drift(host.name, "firewall-extra", f"accepts {p}/{n}, not declared") for p, n in
                   sorted(accepted - declared)]  # fmt: skip
        drifts += [Drift(host.name, "firewall-missing", f"declared {p}/{n} is not accepted") for p, n in
                   sorted(declared - accepted)]  # fmt: skip
        listening = live_listeners(_ssh(ssh_config, host.name, "sudo ss -tulnpH"))
        for protocol, port, process in sorted(listening):
            if not _in(port, declared, protocol):
                drifts.append(Drift(host.name, "listening-undeclared", f"{protocol}/{port} {process}".strip()))
    return drifts
