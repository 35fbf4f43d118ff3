"""Least privilege between hosts (marked `lab`): the workflow engine's only credential for the EhrenamtsCloud opens
the cloud host's provisioning door and nothing else. Tried from the flow host with the engine's own token: it
cannot list accounts, change a setting or read files through Nextcloud's APIs; the door does only its one
validated operation; other hosts cannot reach the door at all; the engine's former admin account is gone."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from egov6.config import load_stack
from egov6.lab.paths import LabPaths
from tests.e2e.cloud_client import Cloud
from tests.e2e.lab_service import first_host

pytestmark = pytest.mark.lab
STACK = "lab"
CLIENT = "egov6-flow"


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    cloud = Cloud.of_lab(STACK)
    yield cloud
    # The refused attempts below count as brute force from the flow host: forget them again.
    flow_address = first_host(STACK, "flow")[1]["egov6_private_ip"]
    cloud.occ("security:bruteforce:reset", flow_address)


def _token() -> str:
    return (LabPaths(STACK).local / "secrets" / f"provision-token-{CLIENT}").read_text(encoding="utf-8").strip()


# Runs on the flow host with its own trust store and name pinning; the request (with the token) comes on stdin.
REQUEST = """
import base64, json, sys, urllib.error, urllib.parse, urllib.request
req = json.load(sys.stdin)
auth = base64.b64encode(req["auth"].encode()).decode()
data = urllib.parse.urlencode([tuple(f) for f in req["form"]]).encode() if req["form"] else None
request = urllib.request.Request(req["url"], data=data, method=req["method"],
                                 headers={"OCS-APIRequest": "true", "Authorization": "Basic " + auth})
try:
    with urllib.request.urlopen(request, timeout=120) as answer:
        print(answer.status); print(answer.read().decode(errors="replace"))
except urllib.error.HTTPError as answer:
    print(answer.code); print(answer.read().decode(errors="replace"))
"""


def from_flow(cloud: Cloud, method: str, path: str, *form: str, user: str = CLIENT) -> tuple[int, str]:
    """An HTTPS request from the flow host with the engine's credentials (on stdin, never on a command line)."""
    flow_host = first_host(STACK, "flow")[0]
    request = {"url": f"https://{cloud.domain}{path}", "method": method, "auth": f"{user}:{_token()}",
               "form": [tuple(field.split("=", 1)) for field in form]}  # fmt: skip
    done = subprocess.run(
        ["ssh", "-F", str(cloud.ssh_config), flow_host, f"python3 -c {shlex.quote(REQUEST)}"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    status, _, body = done.stdout.partition("\n")
    assert status.isdigit(), done.stderr
    return int(status), body


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", "/ocs/v2.php/cloud/users?format=json", "list the accounts"),
        ("GET", "/ocs/v2.php/cloud/groups?format=json", "list the groups"),
        ("POST", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/core/shareapi_enabled?format=json",
         "change a setting"),
        ("PROPFIND", f"/remote.php/dav/files/{CLIENT}/", "read files"),
        ("GET", "/remote.php/dav/files/akeller/", "read an admin's files"),
    ],
)  # fmt: skip
def test_the_engines_token_opens_nothing_in_nextcloud(cloud: Cloud, method: str, path: str, what: str) -> None:
    status, body = from_flow(cloud, method, path, "value=no")
    # 401, or 429 once Nextcloud's brute-force protection throttles the flow host for the failed attempts
    assert status in (401, 429), f"the engine's token could {what}: {status} {body[:200]}"


def test_no_nextcloud_account_for_the_engine(cloud: Cloud) -> None:
    assert CLIENT not in json.loads(cloud.occ("user:list", "--output=json"))


def test_the_door_does_its_one_operation_and_refuses_the_rest(cloud: Cloud) -> None:
    group, town = "verein-e2e-door", f"town={load_stack(STACK).towns[0].slug}"
    try:
        status, body = from_flow(cloud, "POST", "/egov6-provision/club-groups",
                                 f"groupid={group}", "displayname=Tür & \"Tor\" e.V.", town)  # fmt: skip
        assert status == 200, body
        assert group in json.loads(cloud.occ("group:list", "--output=json"))
        assert "club-e2e-door" in json.loads(cloud.occ("user:list", "--output=json"))  # the whole space
        again, body = from_flow(cloud, "POST", "/egov6-provision/club-groups", f"groupid={group}", "displayname=X",
                                town)  # fmt: skip
        assert again == 200 and json.loads(body)["ocs"]["data"]["created"] is False  # safe to repeat
        for bad in ("groupid=admin", "groupid=verein-../admin", "groupid=verein-a;id"):
            status, _ = from_flow(cloud, "POST", "/egov6-provision/club-groups", bad, "displayname=X", town)
            assert status == 400, bad
        status, _ = from_flow(cloud, "POST", "/egov6-provision/club-groups", "groupid=verein-x", "displayname=X",
                              "town=atlantis")  # fmt: skip
        assert status == 400
        assert from_flow(cloud, "POST", "/egov6-provision/users", "userid=x")[0] == 404
        assert from_flow(cloud, "GET", "/egov6-provision/club-groups")[0] == 405
        wrong, _ = from_flow(cloud, "POST", "/egov6-provision/club-groups", "groupid=verein-x", "displayname=X",
                             user="admin")  # fmt: skip
        assert wrong == 401
    finally:
        cloud.remove_club("e2e-door")


def test_the_door_is_closed_to_other_hosts(cloud: Cloud) -> None:
    """The controller (the lab bridge) is not a declared client: nginx refuses before the door is asked."""
    pool = cloud.pool()
    answer = pool.request("POST", "/egov6-provision/club-groups", fields={"groupid": "verein-x", "displayname": "X"},
                          encode_multipart=False, headers={"Host": cloud.domain})  # fmt: skip
    assert answer.status == 403
    assert "verein-x" not in json.loads(cloud.occ("group:list", "--output=json"))
