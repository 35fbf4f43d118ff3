"""A cloud stack's provisioning through the Pulumi Automation API: policies, ``pulumi preview``/``up``, outputs.

Needs the Pulumi CLI, a state backend and the Hetzner token (README, "Running Pulumi for real"); everything
offline (``egov6 check``, the unit tests) runs the same program under mocks instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from egov6.config.loader import repo_root
from egov6.errors import Egov6Error
from egov6.outputs import StackOutputs, parse_outputs

PULUMI_MISSING = (
    "the Pulumi CLI is not installed, so nothing can be previewed or deployed. Install it "
    "(https://www.pulumi.com/docs/install/), run `pulumi login`, set the Hetzner token with "
    "`pulumi config set --secret hcloud:token --stack STACK`, then run this command again. "
    "`egov6 check STACK` works offline without it."
)
POLICY_PACK = "policypack"


def select(name: str) -> Any:
    """The Pulumi stack of that name in this project (the stack file is ``stacks/Pulumi.<name>.yaml``)."""
    if shutil.which("pulumi") is None:
        raise Egov6Error(PULUMI_MISSING)
    from pulumi import automation as auto

    return auto.select_stack(stack_name=name, work_dir=str(repo_root()))


def preview(name: str, on_output: Callable[[str], None]) -> str:
    result = select(name).preview(on_output=on_output, policy_packs=[str(repo_root() / POLICY_PACK)])
    return str(result.change_summary)


def pulumi_up(name: str, on_output: Callable[[str], None]) -> str:
    result = select(name).up(on_output=on_output, policy_packs=[str(repo_root() / POLICY_PACK)])
    return str(result.summary.resource_changes)


def outputs_document(values: dict[str, Any]) -> dict[str, Any]:
    """Automation API outputs (name → OutputValue) as the plain document ``--show-secrets`` prints."""
    return {key: getattr(value, "value", value) for key, value in values.items()}


def stack_outputs(name: str) -> StackOutputs:
    return parse_outputs(outputs_document(select(name).outputs()), f"the Pulumi outputs of stack {name}")
