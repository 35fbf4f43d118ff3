"""`egov6 audit diff STACK REV1 REV2`: what changed in the declared infrastructure between two revisions.

Each revision is evaluated with *its own* code and stack file (exported from git into a temporary folder and
run in a separate interpreter), so a changed firewall rule in the topology shows up like a changed stack value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from egov6.config.loader import repo_root, stack_name
from egov6.errors import Egov6Error

# Runs inside the exported revision: prints resources, exposure and policy results as JSON.
_DRIVER = """
import json, sys
from egov6.config.loader import read_stack_file, load_stack_mapping
from egov6.hetzner.evaluate import evaluate
from egov6.policies import evaluate_policies
from egov6.topology import build_topology
stack, path = sys.argv[1], sys.argv[2]
data = read_stack_file(__import__("pathlib").Path(path))
declaration = evaluate(data, stack)
topology = build_topology(load_stack_mapping(data, path), stack)
secretish = ("password", "userData")
out = {
    "resources": {r.name: {"type": r.type, **{k: v for k, v in r.props.items() if k not in secretish}}
                  for r in declaration.resources if r.type.startswith("hcloud:")},
    "exposure": sorted(f"{h.role} {r.protocol}/{r.port or '-'} from {','.join(r.peers)}"
                       for h in topology.hosts for r in topology.rules[h.role] if r.direction == "in"
                       for _ in [0]),
    "policies": {r.rule.id: [f"{v.resource}: {v.message}" for v in r.violations]
                 for r in evaluate_policies(declaration.resources)},
}
print(json.dumps(out, default=str))
"""


@dataclass
class StackDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # resource -> changed properties
    exposure_added: list[str] = field(default_factory=list)
    exposure_removed: list[str] = field(default_factory=list)
    policies: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (before, after)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.exposure_added or self.exposure_removed
                    or self.policies)  # fmt: skip


def _export(rev: str, into: Path) -> None:
    done = subprocess.run(["git", "-C", str(repo_root()), "archive", "--format=tar", rev], capture_output=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise Egov6Error(f"git revision {rev!r} not found: {done.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")


def declared_at(rev: str, stack: str) -> dict[str, Any]:
    """The declaration of ``stack`` by the toolkit at ``rev``: a stack name is read from that revision's
    ``stacks/``; a stack file outside the repository (another cooperation's) is read as it is now, so the diff
    shows what the toolkit's change does to that cooperation's infrastructure."""
    outside = Path(stack) if Path(stack).suffix in {".yaml", ".yml"} else None
    with tempfile.TemporaryDirectory(prefix="egov6-diff-") as tmp:
        tree = Path(tmp)
        _export(rev, tree)
        stack_file = outside.resolve() if outside else tree / "stacks" / f"Pulumi.{stack}.yaml"
        if not stack_file.is_file():
            raise Egov6Error(f"stack {stack} does not exist at revision {rev}" if not outside else
                             f"stack file {stack} not found")  # fmt: skip
        name = stack_name(stack_file)
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER, name, str(stack_file)],
            capture_output=True, text=True, check=False, env={"PYTHONPATH": str(tree / "infra"), "PATH": ""},
        )  # fmt: skip
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Egov6Error(f"could not evaluate stack {stack} at revision {rev}: {reason}")
        return dict(json.loads(done.stdout))


def compare(before: dict[str, Any], after: dict[str, Any]) -> StackDiff:
    diff = StackDiff()
    old, new = before["resources"], after["resources"]
    diff.added = sorted(set(new) - set(old))
    diff.removed = sorted(set(old) - set(new))
    for name in sorted(set(old) & set(new)):
        keys = sorted(k for k in set(old[name]) | set(new[name]) if old[name].get(k) != new[name].get(k))
        if keys:
            diff.changed[name] = keys
    diff.exposure_added = sorted(set(after["exposure"]) - set(before["exposure"]))
    diff.exposure_removed = sorted(set(before["exposure"]) - set(after["exposure"]))
    for rule in sorted(set(before["policies"]) | set(after["policies"])):
        was = "fail" if before["policies"].get(rule) else "pass" if rule in before["policies"] else "absent"
        now = "fail" if after["policies"].get(rule) else "pass" if rule in after["policies"] else "absent"
        if was != now:
            diff.policies[rule] = (was, now)
    return diff
