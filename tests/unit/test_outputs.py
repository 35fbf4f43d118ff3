"""The stack outputs document: the mocked Pulumi program's outputs and the lab's, through the one inventory step."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from egov6.config.loader import repo_root
from egov6.declared import Declaration
from egov6.errors import Egov6Error
from egov6.hetzner.evaluate import evaluate
from egov6.inventory import read_inventory_file
from egov6.lab.provision import lab_outputs, seed
from egov6.orchestrate import Stack, write_stack_inventory
from egov6.outputs import StackOutputs, parse_outputs, read_outputs, write_outputs
from egov6.policies.rules import revealed
from egov6.secrets import generated_secrets

SHIPPED = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (repo_root() / "stacks").glob("*.yaml"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", SHIPPED)
def test_mocked_program_outputs_become_an_inventory_host_by_host(name: str, tmp_path: Path) -> None:
    stack = Stack.load(name)
    declared = evaluate(copy.deepcopy(stack.data), name)
    outputs = parse_outputs(declared.outputs, f"mocked outputs of {name}")
    folder = write_stack_inventory(stack, outputs, local=tmp_path / "local", folder=tmp_path / "inventory")

    inventory = read_inventory_file(folder / "hosts.yml")["all"]
    reached = {host: values for group in inventory["children"].values() for host, values in group["hosts"].items()}
    assert set(reached) == {h.name for h in stack.topology.hosts}
    known_hosts = (tmp_path / "local" / "known_hosts").read_text(encoding="utf-8").splitlines()
    ssh_config = (tmp_path / "local" / "ssh_config").read_text(encoding="utf-8")
    for host in stack.topology.hosts:
        out = outputs.host(host.name)
        assert reached[host.name] == {"ansible_host": out.ipv4, "egov6_private_ip": host.private_ip}
        pinned = [line.split(" ", 1)[1] for line in known_hosts if line.split()[0] == host.name]
        assert pinned == list(out.host_keys), f"{host.name}: known_hosts does not pin the outputs' host keys"
        assert f"Host {host.name} {out.ipv4}\n  HostName {out.ipv4}\n  HostKeyAlias {host.name}\n" in ssh_config
        assert set(out.volumes) == {v.purpose for v in host.volumes}
    options = [line.split(None, 1) for line in ssh_config.splitlines() if line.startswith("  ")]
    checking = [value for option, value in options if option == "StrictHostKeyChecking"]
    assert checking == ["yes"] * len(stack.topology.hosts)  # on for every host, never anything else
    known = {value for option, value in options if option == "UserKnownHostsFile"}
    assert known == {str(tmp_path / "local" / "known_hosts")}  # only the pinned keys, nothing discarded
    # a shared connection whose host went away ends (within a minute) instead of taking every later command
    shared = [value for option, value in options if option == "ControlMaster"]
    alive = [value for option, value in options if option == "ServerAliveInterval"]
    assert len(shared) == len(alive) == len(stack.topology.hosts) and all(0 < int(v) <= 30 for v in alive)
    assert inventory["vars"]["ansible_user"] == "egov6"

    key = tmp_path / "local" / "automation_ed25519"
    assert _mode(key) == 0o600 and "mock key of" in key.read_text(encoding="utf-8")
    secrets = tmp_path / "local" / "secrets"
    assert _mode(secrets) == 0o700
    for secret in generated_secrets(stack.topology):
        path = secrets / secret.file
        assert _mode(path) == 0o600, secret.file
        assert path.read_text(encoding="utf-8") == outputs.secret_values()[secret.file]
    # no secret value anywhere in the inventory
    inventory_text = "".join(p.read_text(encoding="utf-8") for p in folder.rglob("*.yml"))
    assert "mock key of" not in inventory_text and "mock-password" not in inventory_text


def test_outputs_of_another_shape_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    stack = Stack.load("production")
    document: dict[str, Any] = evaluate(copy.deepcopy(stack.data), "production").outputs
    document["hosts"] = [h for h in document["hosts"] if h["role"] != "flow"]
    outputs = parse_outputs(document, "test")
    with pytest.raises(Egov6Error, match=r"nothing was applied.*egov6-prod-flow1 is declared but has no outputs"):
        write_stack_inventory(stack, outputs, local=tmp_path / "local", folder=tmp_path / "inventory")
    assert not (tmp_path / "local").exists() and not (tmp_path / "inventory").exists()


def test_a_document_that_is_not_outputs_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text('{"stack": "lab", "hosts": []}', encoding="utf-8")
    with pytest.raises(Egov6Error, match=r"outputs.json: not a stack outputs document: .*automation"):
        read_outputs(path)


def _bootstrap_inputs(declared: Declaration) -> dict[str, Any]:
    """The inputs of everything a changed value must never replace: servers, volumes, the Storage Box."""
    kinds = ("Server", "Volume", "VolumeAttachment", "StorageBox", "StorageBoxSubaccount", "PrimaryIp")
    return {f"{r.kind}/{r.name}": r.props for r in declared.resources if r.kind in kinds}


def test_a_changed_admin_list_replaces_no_server_volume_or_storage_box() -> None:
    stack = Stack.load("production")
    before = _bootstrap_inputs(evaluate(copy.deepcopy(stack.data), "production"))
    changed = copy.deepcopy(stack.data)
    admins: list[dict[str, str]] = changed["admins"]  # type: ignore[assignment]
    changed["admins"] = [*admins[1:], {"name": "newadmin", "ssh_key": admins[0]["ssh_key"]}]
    after = _bootstrap_inputs(evaluate(changed, "production"))
    assert before.keys() == after.keys() and before, "the program declared other resources"
    assert before == after, [key for key in before if before[key] != after[key]]


def test_lab_outputs_are_generated_once_and_kept() -> None:
    stack = Stack.load("lab")
    keys: dict[str, Any] = {}
    first = lab_outputs(stack.topology, None, keys)
    again = lab_outputs(stack.topology, first, keys)
    assert again.document() == first.document()
    assert set(first.secret_values()) == {s.file for s in generated_secrets(stack.topology)}
    assert len(set(first.secret_values().values())) == len(first.secrets), "two secrets share a value"
    for name, value in first.secret_values().items():
        assert value not in repr(first) and value not in str(first), f"{name} shows in the document's repr"
    host = stack.topology.hosts[0].name
    document = yaml.safe_load(seed(first, host, keys)["user-data"].removeprefix("#cloud-config\n"))
    assert [u["ssh_authorized_keys"] for u in document["users"]] == [[first.automation.public_key]]
    assert document["ssh_keys"]["ed25519_public"].strip() == first.host(host).host_keys[0]
    assert document["ssh_keys"]["rsa_public"].strip() == first.host(host).host_keys[1]


def test_the_outputs_file_is_root_only_and_round_trips(tmp_path: Path) -> None:
    stack = Stack.load("lab")
    outputs = lab_outputs(stack.topology, None, {})
    path = tmp_path / "outputs.json"
    write_outputs(path, outputs)
    assert _mode(path) == 0o600
    assert read_outputs(path) == outputs
    assert isinstance(read_outputs(path), StackOutputs)


def test_mocked_secrets_are_what_pulumi_would_hand_over() -> None:
    stack = Stack.load("staging")
    declared = evaluate(copy.deepcopy(stack.data), "staging")
    outputs = parse_outputs(declared.outputs, "staging")
    assert set(outputs.secret_values()) == {s.file for s in generated_secrets(stack.topology)}
    # every generated secret is a RandomPassword of the declared length, letters and digits only
    passwords = {r.name: r.props for r in declared.resources if r.kind == "RandomPassword"}
    for secret in generated_secrets(stack.topology):
        props = passwords[f"{stack.config.name}-secret-{secret.file}"]
        assert props["length"] == secret.length and props["special"] is False
    assert revealed  # the rules' helper reads the user-data of servers (test_program)


def test_pulumi_outputs_are_read_as_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi stack output --show-secrets` through the Automation API: OutputValues with secrets in clear."""
    from egov6.hetzner import deploy

    class Value:
        def __init__(self, value: Any, secret: bool = False) -> None:
            self.value, self.secret = value, secret

    class Selected:
        def outputs(self) -> dict[str, Value]:
            document = evaluate(copy.deepcopy(Stack.load("staging").data), "staging").outputs
            return {
                key: Value(value, key in ("automation", "secrets", "backup_maintenance"))
                for key, value in document.items()
            }

    monkeypatch.setattr(deploy, "select", lambda _name: Selected())
    outputs = deploy.stack_outputs("staging")
    assert [h.name for h in outputs.hosts] == [h.name for h in Stack.load("staging").topology.hosts]
    assert outputs.secret_values()["redis"] == "mock-password-not-a-secret"
