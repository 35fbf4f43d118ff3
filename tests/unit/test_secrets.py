"""Secrets a stack takes from the controller's environment reach the playbooks only through the stack's root-only
secrets folder (Ansible runs with a scrubbed environment); a missing one stops before anything is applied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egov6.config.loader import load_stack
from egov6.errors import Egov6Error
from egov6.runner import INHERITED_ENV, scrubbed_env
from egov6.secrets import stage_environment_secrets

VARIABLE = "EGOV6_FLOW_OIDC_CLIENT_SECRET"


def test_an_unset_client_secret_stops_naming_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with pytest.raises(Egov6Error, match=VARIABLE):
        stage_environment_secrets(load_stack("production"), tmp_path / "secrets")
    assert not (tmp_path / "secrets").exists(), "nothing is written when a secret is missing"


def test_the_client_secret_lands_in_a_root_only_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "s3cr3t-from-the-vault")
    written = stage_environment_secrets(load_stack("production"), tmp_path / "secrets")
    path = tmp_path / "secrets" / "spiffworkflow-openid-client-secret"
    assert written == [path.name]
    assert path.read_text(encoding="utf-8") == "s3cr3t-from-the-vault"
    assert path.stat().st_mode & 0o777 == 0o600
    assert stage_environment_secrets(load_stack("production"), tmp_path / "secrets") == []  # re-run: unchanged


def test_the_lab_needs_no_environment_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert stage_environment_secrets(load_stack("lab"), tmp_path / "secrets") == []


def test_the_run_environment_keeps_only_what_ansible_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "canary-token")
    monkeypatch.setenv(VARIABLE, "canary-secret")
    # An admin whose shell already points ANSIBLE_CONFIG at the project's file: the run must keep it (without it
    # Ansible reads no ansible.cfg, runs without pipelining and fails where it becomes an unprivileged user).
    monkeypatch.setenv("ANSIBLE_CONFIG", "/x/ansible.cfg")
    ours = {"ANSIBLE_CONFIG": "/x/ansible.cfg"}
    prepared = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "awx_display", **ours}
    env = scrubbed_env(prepared, ours)
    assert "HCLOUD_TOKEN" not in env and VARIABLE not in env
    assert env["ANSIBLE_STDOUT_CALLBACK"] == "awx_display" and env["ANSIBLE_CONFIG"] == "/x/ansible.cfg"
    assert set(env) - {"ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CONFIG"} <= set(INHERITED_ENV)
