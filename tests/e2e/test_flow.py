"""The workflow engine end to end from the controller, through its API (marked `lab`): a club applies for its
EhrenamtsCloud space — approved (the club's group then exists in Nextcloud), declined by the designer, and
rejected for a seat outside the towns — plus sign-in and the designer/clerk permissions."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from egov6.cli.clubs import adopted_text, run_clubs
from egov6.clubs.registry import registry_path
from egov6.config.loader import load_stack
from tests.e2e.cloud_client import Cloud
from tests.e2e.flow_client import MODEL, Flow, Session
from tests.e2e.test_clubs import _mail_to

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def flow() -> Flow:
    return Flow.of_lab()


@pytest.fixture(scope="module")
def cloud() -> Cloud:
    return Cloud.of_lab()


@pytest.fixture(scope="module")
def clerk(flow: Flow) -> Session:
    session = flow.sign_in(flow.user("clerk"))
    assert session
    return session


@pytest.fixture(scope="module")
def designer(flow: Flow) -> Session:
    session = flow.sign_in(flow.user("designer"))
    assert session
    return session


def groups(cloud: Cloud) -> list[str]:
    return list(json.loads(cloud.occ("group:list", "--output=json")))


def apply(clerk: Session, town: str) -> tuple[int, str]:
    """The clerk records a club's application; returns the instance and the club's short name."""
    slug = f"e2e-{secrets.token_hex(4)}"
    instance = clerk.start()
    intake = clerk.ready_task(instance)
    assert intake and intake["task_name"] == "intake", intake
    application = {
        "club_name": f"Verein {slug}",
        "club_slug": slug,
        "town": town,
        "contact_email": f"{slug}@example.org",
    }
    status, answer = clerk.complete(instance, intake, application)
    assert status == 200, answer
    return instance, slug


def test_wrong_password_is_refused(flow: Flow) -> None:
    assert flow.sign_in(flow.user("clerk"), password="not-the-password") is None


def test_approved_application_provisions_the_clubs_space(flow: Flow, cloud: Cloud, clerk: Session,
                                                      designer: Session) -> None:  # fmt: skip
    # The lab's last town is its test town whose name carries &, quotes, <, $( ) and umlauts: it must go
    # through the decision table and the service task unharmed.
    instance, slug = apply(clerk, flow.towns[-1])
    assert clerk.ready_task(instance) is None, "the approval is not the clerk's task"
    approval = designer.ready_task(instance)
    assert approval and approval["task_name"] == "approval" and approval["lane_name"] == "designers"
    status, _ = clerk.complete(instance, approval, {"approved": True})
    assert status >= 400, "a clerk completed the designers' approval"
    status, answer = designer.complete(instance, approval, {"approved": True, "approval_comment": "welcome"})
    assert status == 200, answer
    assert designer.instance(instance)["status"] == "complete"
    try:
        assert f"verein-{slug}" in groups(cloud), "the service task did not create the club's group"
        # the whole space, by the same provisioner as the registry's; `plan` lists it until it is adopted
        unregistered = run_clubs("lab", "plan").unregistered
        assert {"slug": slug, "name": f"Verein {slug}", "town": flow.towns[-1]} in unregistered, unregistered
        assert adopted_text(registry_path("lab"), unregistered).count(f"slug: {slug}") == 1
        # the applicant is invited (the club's group admin); the mail timer sends the welcome within a minute
        welcome = _mail_to(f"{slug}@example.org", timeout=90)
        assert "lostpassword/reset/form" in welcome.as_string().replace("=\n", "")
        members = json.loads(cloud.occ("group:list", "--output=json"))[f"verein-{slug}"]
        assert [m for m in members if m.startswith("m-")], members  # named by egov6, not by the e-mail
    finally:
        for member in json.loads(cloud.occ("group:list", "--output=json")).get(f"verein-{slug}", []):
            if member.startswith("m-"):
                cloud.occ("user:delete", member)
        cloud.remove_club(slug)


def test_declined_application_creates_nothing(flow: Flow, cloud: Cloud, clerk: Session, designer: Session) -> None:
    instance, slug = apply(clerk, flow.towns[0])
    approval = designer.ready_task(instance)
    assert approval
    status, answer = designer.complete(instance, approval, {"approved": False, "approval_comment": "no club"})
    assert status == 200, answer
    assert designer.instance(instance)["status"] == "complete"
    assert f"verein-{slug}" not in groups(cloud)


def test_seat_outside_the_towns_is_rejected_without_approval(cloud: Cloud, clerk: Session,
                                                             designer: Session) -> None:  # fmt: skip
    instance, slug = apply(clerk, "frankfurt-am-main")
    assert designer.ready_task(instance) is None, "an ineligible club reached the approval"
    assert designer.instance(instance)["status"] == "complete"
    assert f"verein-{slug}" not in groups(cloud)


def test_only_designers_change_process_models(clerk: Session, designer: Session) -> None:
    model = designer.ok("GET", f"/process-models/{MODEL}")
    cloud_name = load_stack("lab").cooperation.cloud_name  # names come from the stack, not from the repo's models
    assert model["display_name"] == f"Club applies for its {cloud_name} space"
    group = designer.ok("GET", f"/process-groups/{MODEL.split(':')[0]}")
    assert group["display_name"] == load_stack("lab").cooperation.name
    status, _ = clerk.call("PUT", f"/process-models/{MODEL}", {"display_name": "changed by a clerk"})
    assert status == 403
    status, _ = clerk.call("POST", "/process-groups", {"id": "clerk-group", "display_name": "not allowed"})
    assert status == 403


def test_frontend_and_its_bundle_are_served_on_the_engine_origin(flow: Flow) -> None:
    """The page a browser gets, and the script bundle it names, come from the same origin as the API."""
    http = flow.pool()
    page = http.request("GET", "/", headers={"Host": flow.domain})
    assert page.status == 200
    bundles = re.findall(r'<script type="module" crossorigin src="(/assets/[^"]+\.js)"', page.data.decode())
    assert bundles, "index.html names no script bundle"
    bundle = http.request("GET", bundles[0], headers={"Host": flow.domain})
    assert bundle.status == 200 and b"/api" in bundle.data
