"""The lab bridge: the subnet's first address on the controller, checked for collisions before use."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from egov6.errors import Egov6Error
from egov6.lab.shell import run


def _links() -> list[dict[str, Any]]:
    return list(json.loads(run(["ip", "-j", "addr", "show"]) or "[]"))


def bridge_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def check_collisions(bridge: str, subnet: ipaddress.IPv4Network, ours: bool) -> None:
    """Refuses a bridge name or subnet that something else on this machine already uses."""
    if bridge_exists(bridge) and not ours:
        raise Egov6Error(
            f"a network interface named {bridge!r} already exists and was not made by this lab; "
            "choose another egov6:lab.bridge in the stack file"
        )
    for link in _links():
        if link.get("ifname") == bridge and ours:
            continue
        for addr in link.get("addr_info", []):
            if addr.get("family") != "inet":
                continue
            net = ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", strict=False)
            if net.overlaps(subnet):
                raise Egov6Error(
                    f"the lab subnet {subnet} overlaps {net} on interface {link.get('ifname')}; "
                    "choose another egov6:network.subnet in the stack file"
                )


def create_bridge(bridge: str, gateway: str, subnet: ipaddress.IPv4Network) -> None:
    if not bridge_exists(bridge):
        run(["ip", "link", "add", bridge, "type", "bridge"])
    current = run(["ip", "-4", "-o", "addr", "show", "dev", bridge])
    if f" {gateway}/" not in current:
        run(["ip", "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def delete_bridge(bridge: str) -> None:
    if bridge_exists(bridge):
        run(["ip", "link", "delete", bridge])
