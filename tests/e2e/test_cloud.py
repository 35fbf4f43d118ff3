"""The EhrenamtsCloud end to end from the controller, over the real protocols (marked `lab`): WebDAV chunked
upload and download of 200 MB, PROPFIND on 1,000 files, CalDAV in a shared calendar, an OCS share to a club's
group, quota enforcement and login throttling."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.cloud_client import CHUNK, Cloud, User

pytestmark = pytest.mark.lab
BIG = 200 * 1024 * 1024
CLUB = "e2e-verein"


@pytest.fixture(scope="module")
def cloud() -> Cloud:
    return Cloud.of_lab()


@pytest.fixture(scope="module")
def owner(cloud: Cloud) -> User:
    """The club's functional account (holds the club folder)."""
    existing = cloud.occ("group:list", "--output=json")
    if f'"{CLUB}"' not in existing:
        cloud.occ("group:add", CLUB)
    return cloud.user("e2e-club-owner", secrets.token_urlsafe(18), group=CLUB, quota="1 GB")


@pytest.fixture(scope="module")
def member(cloud: Cloud, owner: User) -> User:
    return cloud.user("e2e-club-member", secrets.token_urlsafe(18), group=CLUB)


def _chunks(seed: bytes, total: int) -> Iterator[bytes]:
    """Deterministic pseudo-random data, generated chunk by chunk (no 200 MB in memory)."""
    block = hashlib.sha256(seed).digest() * (CHUNK // 32)
    for offset in range(0, total, CHUNK):
        yield bytes(a ^ (offset // CHUNK % 256) for a in block[:16]) + block[16 : min(CHUNK, total - offset)]


def test_chunked_upload_and_download_of_200_mb(owner: User) -> None:
    expected = hashlib.sha256()
    for chunk in _chunks(b"egov6", BIG):
        expected.update(chunk)
    status = owner.upload_chunked(_chunks(b"egov6", BIG), "e2e-big.bin", BIG)
    assert status in (201, 204), status
    response = owner.request("GET", owner.files("e2e-big.bin"), preload=False)
    assert response.status == 200
    got, size = hashlib.sha256(), 0
    for piece in response.stream(1024 * 1024):
        got.update(piece)
        size += len(piece)
    response.release_conn()
    assert size == BIG
    assert got.hexdigest() == expected.hexdigest()


def test_propfind_on_a_folder_of_1000_files(owner: User) -> None:
    folder = "e2e-1000"
    owner.request("MKCOL", owner.files(folder))  # 201, or 405 when it exists from an earlier run
    present = owner.propfind(owner.files(folder))
    missing = [n for n in range(1000) if f"{owner.files(folder)}/file-{n:04d}.txt" not in present]

    def put(number: int) -> int:
        return owner.request("PUT", owner.files(f"{folder}/file-{number:04d}.txt"), body=f"club file {number}\n").status

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(put, missing))
    assert all(s in (201, 204) for s in statuses)
    listing = owner.propfind(owner.files(folder))
    assert len(listing) == 1001  # the folder and its 1,000 files
    assert f"{owner.files(folder)}/file-0999.txt" in listing


def test_ocs_share_to_the_club_group(owner: User, member: User) -> None:
    owner.request("MKCOL", owner.files("Vereinsordner"))
    owner.request("PUT", owner.files("Vereinsordner/Protokoll.txt"), body=b"Jahreshauptversammlung\n")
    shares = owner.ocs("GET", "apps/files_sharing/api/v1/shares")
    if not any(s.get("share_with") == CLUB and s.get("path") == "/Vereinsordner" for s in shares["data"]):
        created = owner.ocs(
            "POST",
            "apps/files_sharing/api/v1/shares",
            {"path": "/Vereinsordner", "shareType": "1", "shareWith": CLUB, "permissions": "31"},
        )
        assert created["http_status"] == 200, created["meta"]
        assert created["data"]["share_with"] == CLUB
    seen = member.request("GET", member.files("Vereinsordner/Protokoll.txt"))
    assert seen.status == 200 and seen.data == b"Jahreshauptversammlung\n"


def test_public_link_needs_a_password(owner: User) -> None:
    refused = owner.ocs("POST", "apps/files_sharing/api/v1/shares", {"path": "/Vereinsordner", "shareType": "3"})
    assert refused["http_status"] in (400, 403), refused["meta"]
    allowed = owner.ocs(
        "POST",
        "apps/files_sharing/api/v1/shares",
        {"path": "/Vereinsordner", "shareType": "3", "password": secrets.token_urlsafe(16)},
    )
    assert allowed["http_status"] == 200, allowed["meta"]
    assert allowed["data"]["expiration"], "a public link without expiry date"
    owner.ocs("DELETE", f"apps/files_sharing/api/v1/shares/{allowed['data']['id']}")


def test_caldav_event_in_a_shared_calendar(owner: User, member: User) -> None:
    calendar = f"/remote.php/dav/calendars/{owner.name}/vereinstermine/"
    if owner.request("PROPFIND", calendar, headers={"Depth": "0"}).status == 404:
        made = owner.request(
            "MKCALENDAR",
            calendar,
            body=(
                '<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                "<d:set><d:prop><d:displayname>Vereinstermine</d:displayname></d:prop></d:set></c:mkcalendar>"
            ),
        )
        assert made.status == 201, made.status
    shared = owner.request(
        "POST",
        calendar,
        headers={"Content-Type": "application/xml"},
        body=(
            '<?xml version="1.0"?><o:share xmlns:d="DAV:" xmlns:o="http://owncloud.org/ns"><o:set>'
            f"<d:href>principal:principals/groups/{CLUB}</d:href><o:read-write/></o:set></o:share>"
        ),
    )
    assert shared.status in (200, 204), shared.status
    uid = f"egov6-{secrets.token_hex(6)}"
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//egov6//e2e//DE\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261126T120000Z\r\nDTSTART:20261205T180000Z\r\nDTEND:20261205T200000Z\r\n"
        "SUMMARY:Vorstandssitzung\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    # The member writes into the club calendar through their own view of the share …
    member_view = f"/remote.php/dav/calendars/{member.name}/vereinstermine_shared_by_{owner.name}/{uid}.ics"
    put = member.request("PUT", member_view, body=event, headers={"Content-Type": "text/calendar"})
    assert put.status == 201, put.status
    # … and the owner reads the event from the calendar itself.
    read = owner.request("GET", f"{calendar}{uid}.ics")
    assert read.status == 200 and b"SUMMARY:Vorstandssitzung" in read.data


def test_quota_is_enforced_with_507(cloud: Cloud) -> None:
    small = cloud.user("e2e-quota", secrets.token_urlsafe(18), quota="5 MB")
    over = small.request("PUT", small.files("too-big.bin"), body=os.urandom(6 * 1024 * 1024))
    assert over.status == 507, over.status
    fits = small.request("PUT", small.files("fits.bin"), body=os.urandom(1024 * 1024))
    assert fits.status in (201, 204), fits.status


def test_repeated_failed_logins_are_throttled(cloud: Cloud, owner: User) -> None:
    """Brute-force protection (HOST-05): after repeated failures the server delays, then refuses."""
    attacker = User(cloud, owner.name, "wrong-password", cloud.pool(), keep_session=False)
    timings, statuses, throttled = [], [], False
    try:
        for _ in range(12):
            began = time.monotonic()
            response = attacker.request("PROPFIND", attacker.files(), headers={"Depth": "0"})
            timings.append(time.monotonic() - began)
            statuses.append(response.status)
            throttled |= "x-nextcloud-bruteforce-throttled" in {k.lower() for k in response.headers}
            if response.status == 429:
                break
        assert set(statuses) <= {401, 429}
        # Nextcloud answers 429 (Too Many Requests) once the address has failed too often.
        assert throttled or 429 in statuses, f"no throttling after {len(statuses)} failures: {timings}"
    finally:
        cloud.occ("security:bruteforce:reset", cloud.controller)
    assert owner.request("PROPFIND", owner.files(), headers={"Depth": "0"}).status == 207
