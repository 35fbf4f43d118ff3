"""The nextcloud role's occ module in its `state` mode, run as Ansible runs it, against a stand-in for occ that
keeps Nextcloud's configuration in a JSON file and records every call (the real occ runs on the lab host)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from egov6.config.loader import repo_root

MODULE = repo_root() / "playbooks" / "roles" / "nextcloud" / "library" / "nextcloud_occ.py"

FAKE_OCC = """#!{python}
import json, sys
from pathlib import Path
state_file = Path({state!r})
state = json.loads(state_file.read_text())
args = sys.argv[1:]
with open({calls!r}, "a") as calls:
    calls.write(json.dumps(args) + "\\n")
if args[0] == "config:list":
    print(json.dumps(state))
elif args[0] == "config:import":
    doc = json.loads(sys.stdin.read())
    state["system"].update(doc.get("system", {{}}))
    for app, values in doc.get("apps", {{}}).items():
        state["apps"].setdefault(app, {{}}).update(values)
elif args[0] == "app:enable":
    for app in args[1:]:
        state["apps"].setdefault(app, {{}})["enabled"] = "yes"
elif args[0] == "app:disable":
    for app in args[1:]:
        state["apps"][app]["enabled"] = "no"
elif args[0] == "maintenance:install":
    import os
    answers = sys.stdin.read().splitlines()
    state["installed_with"] = {{"answers": answers, "asked": os.environ.get("EGOV6_OCC_ANSWERS_ON_STDIN")}}
elif args[0] == "encryption:enable":
    state["apps"]["core"]["encryption_enabled"] = "yes"
state_file.write_text(json.dumps(state))
"""

SECRET = "redis-secret-that-must-stay-off-argv"


@pytest.fixture
def occ(tmp_path: Path) -> dict[str, Path]:
    state = tmp_path / "state.json"
    calls = tmp_path / "calls.jsonl"
    state.write_text(
        json.dumps(
            {
                "system": {"loglevel": 1, "trusted_domains": ["cloud.example"], "redis": {"host": "/run/redis.sock"}},
                "apps": {
                    "core": {"enabled": "yes", "shareapi_enforce_links_password": True, "backgroundjobs_mode": "ajax"},
                    "survey_client": {"enabled": "yes"},
                    "admin_audit": {"enabled": "no"},
                },
            }
        ),
        encoding="utf-8",
    )
    script = tmp_path / "occ"
    script.write_text(FAKE_OCC.format(python=sys.executable, state=str(state), calls=str(calls)), encoding="utf-8")
    script.chmod(0o755)
    return {"occ": script, "state": state, "calls": calls}


def run_module(occ: dict[str, Path], **args: Any) -> dict[str, Any]:
    args_file = occ["occ"].parent / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"occ": str(occ["occ"]), **args}}), encoding="utf-8")
    done = subprocess.run([sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True, check=False)
    result: dict[str, Any] = json.loads(done.stdout)
    assert not result.get("failed"), result
    return result


def calls(occ: dict[str, Path]) -> list[list[str]]:
    if not occ["calls"].is_file():
        return []
    return [json.loads(line) for line in occ["calls"].read_text(encoding="utf-8").splitlines()]


DECLARED: dict[str, Any] = {
    "apps_enabled": ["admin_audit"],
    "apps_disabled": ["survey_client", "firstrunwizard"],
    "encryption": True,
    "system": {
        "loglevel": 1,
        "trusted_domains": ["cloud.example"],
        "redis": {"host": "/run/redis.sock", "password": SECRET},
        "twofactor_enforced_excluded_groups": [],
    },
    "apps": {"core": {"shareapi_enforce_links_password": "1", "backgroundjobs_mode": "cron"}},
}


def test_only_differences_are_written_in_one_import_with_values_off_the_command_line(occ: dict[str, Path]) -> None:
    result = run_module(occ, **DECLARED)
    assert result["changed"] is True
    assert sorted(result["changed_items"]) == sorted([
        "app enabled: admin_audit", "app disabled: survey_client", "server-side encryption enabled",
        "system: redis", "core: backgroundjobs_mode",
    ])  # fmt: skip
    commands = [call[0] for call in calls(occ)]
    assert commands == ["config:list", "app:enable", "app:disable", "encryption:enable", "config:import"]
    assert all(SECRET not in arg for call in calls(occ) for arg in call)
    assert SECRET not in json.dumps(result)  # names of what changed and was declared, never values
    state = json.loads(occ["state"].read_text(encoding="utf-8"))
    assert state["system"]["redis"]["password"] == SECRET
    assert state["apps"]["core"]["backgroundjobs_mode"] == "cron"


def test_a_second_run_reads_once_and_changes_nothing(occ: dict[str, Path]) -> None:
    run_module(occ, **DECLARED)
    before = len(calls(occ))
    result = run_module(occ, **DECLARED)
    assert result["changed"] is False and result["changed_items"] == []
    assert [call[0] for call in calls(occ)[before:]] == ["config:list"]


def test_check_mode_reports_without_writing(occ: dict[str, Path]) -> None:
    result = run_module(occ, _ansible_check_mode=True, **DECLARED)
    assert result["changed"] is True
    assert [call[0] for call in calls(occ)] == ["config:list"]


def test_install_passwords_go_to_stdin_never_to_the_arguments(occ: dict[str, Path]) -> None:
    result = run_module(
        occ, command=["maintenance:install", "--database=pgsql", "--admin-user=akeller"], answers=[SECRET, "admin-pw"]
    )
    assert result["changed"] is False  # the role decides changed_when for an install
    state = json.loads(occ["state"].read_text(encoding="utf-8"))
    assert state["installed_with"] == {"answers": [SECRET, "admin-pw"], "asked": "1"}
    assert all(SECRET not in arg and "admin-pw" not in arg for call in calls(occ) for arg in call)
    assert SECRET not in json.dumps(result)
