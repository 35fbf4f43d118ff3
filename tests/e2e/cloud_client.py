"""A small client for the EhrenamtsCloud over its real protocols (WebDAV, CalDAV, OCS), for tests and benches.

It talks to the cloud host's address with the service's name for TLS (SNI and certificate check against the
lab CA), so the controller needs no DNS entry.
"""

from __future__ import annotations

import base64
import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import urllib3

from egov6.lab.paths import LabPaths
from tests.e2e.lab_service import as_root, first_host, https_pool

DAV = "{DAV:}"
CHUNK = 10 * 1024 * 1024


@dataclass(frozen=True)
class Cloud:
    domain: str
    address: str
    ca: Path
    ssh_config: Path
    host: str
    controller: str  # the address the cloud sees the tests come from (the lab bridge)

    @classmethod
    def of_lab(cls, stack: str = "lab") -> Cloud:
        name, host_vars, cloud, common = first_host(stack, "cloud")
        bridge = str(next(ipaddress.ip_network(common["egov6_subnet"]).hosts()))
        return cls(cloud["nextcloud_domain"], host_vars["ansible_host"], Path(cloud["egov6_trust_bundle"]),
                   LabPaths(stack).ssh_config, name, bridge)  # fmt: skip

    def pool(self) -> urllib3.HTTPSConnectionPool:
        return https_pool(self.address, self.domain, self.ca, read_timeout=600)

    def root(self, command: str) -> subprocess.CompletedProcess[str]:
        """One command as root on the cloud host (through the pinned SSH config); the caller judges the result."""
        return as_root(self.ssh_config, self.host, command)

    def occ(self, *args: str, env: dict[str, str] | None = None) -> str:
        assignments = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        done = self.root(f"env {assignments} egov6-occ {' '.join(args)}")
        if done.returncode != 0:
            raise RuntimeError(f"occ {' '.join(args)} failed: {done.stdout} {done.stderr}")
        return done.stdout

    def remove_club(self, slug: str) -> None:
        """A club space a test made (group, club account with its folder and calendar), gone again."""
        for command in (f"user:delete club-{slug}", f"group:delete verein-{slug}"):
            done = self.root(f"egov6-occ {command}")
            assert done.returncode == 0 or "not exist" in done.stdout + done.stderr, done.stdout + done.stderr

    def user(self, name: str, password: str, group: str | None = None, quota: str | None = None) -> User:
        """Creates (or resets) a test account through occ and returns a client for it."""
        existing = self.occ("user:list", "--output=json")
        if f'"{name}"' not in existing:
            self.occ("user:add", "--password-from-env", *(["--group", group] if group else []), name,
                     env={"OC_PASS": password})  # fmt: skip
        else:
            self.occ("user:resetpassword", "--password-from-env", name, env={"OC_PASS": password})
        if quota:
            self.occ("user:setting", name, "files", "quota", f"'{quota}'")
        return User(self, name, password, self.pool())


@dataclass
class User:
    """One account's client. Like the desktop client it keeps the session cookies, so that the password
    (Argon2id, about a second of CPU on purpose) is verified once per session, not on every request."""

    cloud: Cloud
    name: str
    password: str
    http: urllib3.HTTPSConnectionPool
    keep_session: bool = True
    cookies: dict[str, str] = field(default_factory=dict)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        token = base64.b64encode(f"{self.name}:{self.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Host": self.cloud.domain, **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                preload: bool = True) -> urllib3.BaseHTTPResponse:  # fmt: skip
        response = self.http.request(method, path, body=body, headers=self.headers(headers), preload_content=preload)
        if self.keep_session:
            for header in response.headers.getlist("Set-Cookie"):
                jar: SimpleCookie = SimpleCookie()
                jar.load(header)
                self.cookies.update({key: morsel.value for key, morsel in jar.items()})
        return response

    def files(self, path: str = "") -> str:
        return f"/remote.php/dav/files/{self.name}/{path.lstrip('/')}"

    def upload_chunked(self, source: Iterator[bytes], target: str, total: int) -> int:
        """Nextcloud chunked upload v2: MKCOL an upload folder, PUT the chunks, MOVE .file into place."""
        folder = f"/remote.php/dav/uploads/{self.name}/egov6-{uuid.uuid4().hex}"
        destination = f"https://{self.cloud.domain}{self.files(target)}"
        status = self.request("MKCOL", folder, headers={"Destination": destination}).status
        assert status == 201, f"MKCOL {status}"
        for number, chunk in enumerate(source, start=1):
            status = self.request(
                "PUT",
                f"{folder}/{number:05d}",
                body=chunk,
                headers={"Destination": destination, "OC-Total-Length": str(total)},
            ).status
            assert status in (201, 204), f"chunk {number}: {status}"
        done = self.request("MOVE", f"{folder}/.file", headers={"Destination": destination,
                                                                "OC-Total-Length": str(total)})  # fmt: skip
        return done.status

    def propfind(self, path: str, depth: str = "1") -> list[str]:
        body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontentlength/>' \
               "</d:prop></d:propfind>"  # fmt: skip
        response = self.request("PROPFIND", path, body=body, headers={"Depth": depth})
        assert response.status == 207, f"PROPFIND {path}: {response.status}"
        tree = ElementTree.fromstring(response.data)  # noqa: S314 our own lab server's answer
        return [node.text or "" for node in tree.iter(f"{DAV}href")]

    def ocs(self, method: str, path: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
        import json
        from urllib.parse import urlencode

        body = urlencode(fields or {})
        response = self.request(method, f"/ocs/v2.php/{path}?format=json", body=body or None,
                                headers={"OCS-APIRequest": "true",
                                         "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        return dict(json.loads(response.data)["ocs"]) | {"http_status": response.status}
