"""A stack grown to many hosts, for the scale tests and benchmarks (the Pulumi program, the audit report)."""

from __future__ import annotations

import copy
from typing import Any


def scaled(data: dict[str, Any], hosts: int) -> dict[str, Any]:
    """A copy of a stack's ``egov6:*`` values with ``hosts`` hosts: its one cloud host (one Nextcloud per stack)
    and the rest as flow hosts, in a subnet large enough for them."""
    data = copy.deepcopy(data)
    data["hosts"]["cloud"]["count"] = 1
    data["hosts"]["flow"]["count"] = hosts - 1
    data["network"] = {"ip_range": "10.60.0.0/16", "subnet": "10.60.0.0/20"}
    return data
