"""The cloud host's provisioning door (nextcloud role, files/egov6-provision), driven over a socket as systemd hands
it a connection, with a stand-in for the club provisioner that records what it was asked: only a known client's
token opens it, and it does exactly one validated operation (a club's space), nothing else."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from egov6.config.loader import repo_root
from tests.unit.conftest import load_script

SCRIPT = repo_root() / "playbooks" / "roles" / "nextcloud" / "files" / "egov6-provision"
TOKEN = "engine-token-0123456789abcdefghijklmnopqrstuvwx"

FAKE_PROVISIONER = """#!{python}
import json, sys
desired = json.load(sys.stdin)
with open({calls!r}, "a") as calls:
    calls.write(json.dumps([sys.argv[1:], desired]) + "\\n")
if sys.argv[1] == "invite":
    print(json.dumps(dict(mode="invite", account="m-0123456789", created=True, admin=True, mail_error="")))
    sys.exit(0)
slug = desired["clubs"][0]["slug"]
changes = [] if slug == "exists" else [dict(club=slug, item="group", action="create", detail="")]
if slug == "taken":
    changes = [dict(club=slug, item="club", action="refused", detail="not egov6's")]
print(json.dumps(dict(mode="apply", changes=changes, errors=[], unregistered=[], skipped=[])))
"""
SETTINGS = {"quota": "5 GB", "retention_days": 30, "towns": ["birstein", "bad-orb"]}


@pytest.fixture
def door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script(SCRIPT, "egov6_provision")
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({"egov6-flow": hashlib.sha256(TOKEN.encode()).hexdigest()}), encoding="utf-8")
    provisioner = tmp_path / "egov6-clubs"
    provisioner.write_text(FAKE_PROVISIONER.format(python=sys.executable, calls=str(tmp_path / "calls.jsonl")),
                           encoding="utf-8")  # fmt: skip
    provisioner.chmod(0o755)
    settings = tmp_path / "clubs.json"
    settings.write_text(json.dumps(SETTINGS), encoding="utf-8")
    monkeypatch.setattr(module, "CLIENTS", str(clients))
    monkeypatch.setattr(module, "CLUBS", str(settings))
    monkeypatch.setattr(module, "PROVISIONER", [str(provisioner)])
    return module


def calls(tmp_path: Path) -> list[Any]:
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def ask(door: ModuleType, method: str, path: str, body: str = "", auth: str | None = None,
        content_type: str = "application/x-www-form-urlencoded") -> tuple[int, dict[str, Any]]:  # fmt: skip
    """One request over a socket pair, served the way systemd hands a connection to the unit."""
    ours, theirs = socket.socketpair()

    def serve() -> None:
        door.Door(theirs, ("nginx", 0), None)
        theirs.close()  # the unit's process ends here, which closes the connection

    server = threading.Thread(target=serve)
    server.start()
    headers = [f"{method} {path} HTTP/1.0", f"Content-Type: {content_type}", f"Content-Length: {len(body.encode())}"]
    if auth is not None:
        headers.append(f"Authorization: Basic {base64.b64encode(auth.encode()).decode()}")
    ours.sendall(("\r\n".join(headers) + "\r\n\r\n" + body).encode())
    reply = b""
    while chunk := ours.recv(65536):
        reply += chunk
    server.join(timeout=10)
    head, _, payload = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_the_engine_gets_a_clubs_space_from_the_same_provisioner(door: ModuleType, tmp_path: Path) -> None:
    body = "groupid=verein-tsv-birstein&displayname=TSV+Birstein+%26+%22S%C3%B6hne%22+%24%28id%29&town=birstein"
    status, answer = ask(door, "POST", "/club-groups", body, auth=f"egov6-flow:{TOKEN}")
    assert status == 200, answer
    assert answer["ocs"]["data"] == {"groupid": "verein-tsv-birstein", "created": True, "contact_invited": False}
    ((argv, desired),) = calls(tmp_path)
    assert argv == ["apply"]
    assert desired["retention_days"] == 30
    assert desired["clubs"] == [{
        "slug": "tsv-birstein", "name": 'TSV Birstein & "Söhne" $(id)', "quota": "5 GB", "calendar": True,
        "talk": True, "state": "active", "offboarded_on": None, "origin": "engine", "town": "birstein",
    }]  # fmt: skip


def test_an_existing_space_is_fine(door: ModuleType) -> None:
    status, answer = ask(door, "POST", "/club-groups",
                         '{"groupid": "verein-exists", "displayname": "X e.V.", "town": "bad-orb"}',
                         auth=f"egov6-flow:{TOKEN}", content_type="application/json")  # fmt: skip
    assert status == 200 and answer["ocs"]["data"]["created"] is False


def test_a_name_taken_by_an_account_egov6_did_not_make_is_refused(door: ModuleType) -> None:
    status, answer = ask(door, "POST", "/club-groups", "groupid=verein-taken&displayname=T&town=bad-orb",
                         auth=f"egov6-flow:{TOKEN}")  # fmt: skip
    assert status == 409, answer


@pytest.mark.parametrize(
    "auth", [None, f"egov6-flow:{TOKEN}x", f"someone:{TOKEN}", "egov6-flow:", f"admin:{TOKEN}"], ids=str
)
def test_without_the_clients_token_nothing_happens(door: ModuleType, tmp_path: Path, auth: str | None) -> None:
    status, _ = ask(door, "POST", "/club-groups", "groupid=verein-abc&displayname=A&town=birstein", auth=auth)
    assert status == 401
    assert calls(tmp_path) == []


@pytest.mark.parametrize(
    "body",
    [
        "groupid=admin&displayname=A&town=birstein",
        "groupid=verein-&displayname=A&town=birstein",
        "groupid=verein-a/../b&displayname=A&town=birstein",
        "groupid=verein-a;id&displayname=A&town=birstein",
        "groupid=Verein-ABC&displayname=A&town=birstein",
        "groupid=verein-abc&displayname=&town=birstein",
        "groupid=verein-abc&displayname=A%0Ab&town=birstein",
        "groupid=verein-abc&displayname=%E2%80%AEevil&town=birstein",
        "groupid=verein-abc&displayname=%7B%7B+7*7+%7D%7D&town=birstein",
        "groupid=verein-abc&displayname=A&town=atlantis",
        "groupid=verein-abc&displayname=A",
        "groupid=verein-abc",
        "not a form",
    ],
)
def test_anything_but_a_clubs_group_is_refused(door: ModuleType, tmp_path: Path, body: str) -> None:
    status, answer = ask(door, "POST", "/club-groups", body, auth=f"egov6-flow:{TOKEN}")
    assert status == 400, answer
    assert calls(tmp_path) == []


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/club-groups", 405), ("POST", "/users", 404), ("POST", "/../ocs/v2.php/cloud/users", 404),
    ("DELETE", "/club-groups", 405), ("POST", "/config", 404),
])  # fmt: skip
def test_the_door_offers_nothing_else(door: ModuleType, tmp_path: Path, method: str, path: str, expected: int) -> None:
    status, _ = ask(door, method, path, "groupid=verein-abc&displayname=A", auth=f"egov6-flow:{TOKEN}")
    assert status == expected
    assert calls(tmp_path) == []


def test_the_token_is_never_logged(door: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    ask(door, "POST", "/club-groups", "groupid=verein-abc&displayname=A&town=birstein", auth=f"egov6-flow:{TOKEN}")
    ask(door, "POST", "/club-groups", "groupid=verein-abc&displayname=A&town=birstein",
        auth=f"egov6-flow:{TOKEN}wrong")  # fmt: skip
    logged = capsys.readouterr().err
    assert "verein-abc" in logged and TOKEN not in logged


def test_the_applicant_is_invited_with_the_mail_left_to_the_timer(door: ModuleType, tmp_path: Path) -> None:
    body = "groupid=verein-tsv-birstein&displayname=TSV+Birstein&town=birstein&contact=vorstand%40tsv-birstein.de"
    status, answer = ask(door, "POST", "/club-groups", body, auth=f"egov6-flow:{TOKEN}")
    assert status == 200, answer
    assert answer["ocs"]["data"]["contact_invited"] is True
    (_apply, (argv, request)) = calls(tmp_path)
    assert argv == ["invite"]
    assert request == {"club": "tsv-birstein", "email": "vorstand@tsv-birstein.de", "admin": True, "defer_mail": True}


@pytest.mark.parametrize("contact", ["not-an-address", "a@b", "x@example.org%0Abcc%3A+evil%40example.org"])
def test_a_contact_that_is_no_address_is_refused(door: ModuleType, tmp_path: Path, contact: str) -> None:
    body = f"groupid=verein-tsv-birstein&displayname=TSV&town=birstein&contact={contact}"
    status, _ = ask(door, "POST", "/club-groups", body, auth=f"egov6-flow:{TOKEN}")
    assert status == 400
    assert calls(tmp_path) == []
