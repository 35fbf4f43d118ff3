"""A small client for the workflow engine over its real API, for tests and benches.

It signs in the way the browser does (the engine's login → the OpenID provider's login form → the engine's
login_return, which sets the access token cookie), then calls the API under /api/v1.0 with that token. Like
the cloud client it talks to the flow host's address with the service's name for TLS (lab CA).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import urllib3

from tests.e2e.lab_service import first_host, https_pool

API = "/api/v1.0"
MODEL = "egov6:club-application"  # the process model's identifier with "/" spelt ":" (as the API wants it)


@dataclass(frozen=True)
class Flow:
    domain: str
    address: str
    ca: Path
    secrets: Path
    users: dict[str, str]  # login → role
    towns: tuple[str, ...]  # the stack's town slugs (the eligibility table's rows)

    @classmethod
    def of_lab(cls, stack: str = "lab") -> Flow:
        _, host_vars, flow, _ = first_host(stack, "flow")
        return cls(flow["spiffworkflow_domain"], host_vars["ansible_host"], Path(flow["egov6_trust_bundle"]),
                   Path(flow["egov6_secrets_dir"]),
                   {u["name"]: u["role"] for u in flow["spiffworkflow_users"]},
                   tuple(t["slug"] for t in flow["spiffworkflow_towns"]))  # fmt: skip

    def user(self, role: str) -> str:
        return next(name for name, has in self.users.items() if has == role)

    def password(self, user: str) -> str:
        return (self.secrets / f"spiffworkflow-user-{user}").read_text(encoding="utf-8").strip()

    def pool(self) -> urllib3.HTTPSConnectionPool:
        return https_pool(self.address, self.domain, self.ca, read_timeout=120)

    def sign_in(self, user: str, password: str | None = None) -> Session | None:
        """The browser's sign-in; None when the provider refuses the password."""
        http = self.pool()
        origin = f"https://{self.domain}"

        def get(url: str) -> urllib3.BaseHTTPResponse:
            parts = urlsplit(url)
            assert parts.netloc in ("", self.domain), f"redirected off the origin: {url}"
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            return http.request("GET", target, headers={"Host": self.domain}, redirect=False)

        start = get(f"{API}/login?" + urlencode({"authentication_identifier": "default", "redirect_url": f"{origin}/"}))
        assert start.status in (302, 303), f"login: {start.status} {start.data[:200]!r}"
        auth = urlsplit(start.headers["Location"])
        form = {key: values[0] for key, values in parse_qs(auth.query).items()}
        form |= {"Uname": user, "Pass": password if password is not None else self.password(user)}
        form_headers = {"Host": self.domain, "Content-Type": "application/x-www-form-urlencoded"}
        submit = auth.path.rsplit("/", 1)[0] + "/form_submit"  # beside the provider's login page
        submitted = http.request("POST", submit, body=urlencode(form), headers=form_headers,
                                 redirect=False)  # fmt: skip
        if submitted.status == 200:  # the login form again, with its error
            assert b"Login failed" in submitted.data
            return None
        assert submitted.status in (302, 303), f"form_submit: {submitted.status}"
        returned = get(submitted.headers["Location"])
        assert returned.status in (302, 303), f"login_return: {returned.status} {returned.data[:300]!r}"
        jar: SimpleCookie = SimpleCookie()
        for header in returned.headers.getlist("Set-Cookie"):
            jar.load(header)
        return Session(self, user, jar["access_token"].value, http)


@dataclass(frozen=True)
class Session:
    flow: Flow
    user: str
    token: str
    http: urllib3.HTTPSConnectionPool

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Host": self.flow.domain, "Authorization": f"Bearer {self.token}",
                   "SpiffWorkflow-Authentication-Identifier": "default"}  # fmt: skip
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = self.http.request(method, API + path, body=data, headers=headers, redirect=False)
        text = response.data.decode()
        return response.status, (json.loads(text) if text.strip()[:1] in ("{", "[") else text)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert 200 <= status < 300, f"{method} {path}: {status} {str(answer)[:500]}"
        return answer

    def start(self) -> int:
        """Creates and runs an instance of the club application; returns its id."""
        instance = self.ok("POST", f"/process-instances/{MODEL}")
        self.ok("POST", f"/process-instances/{MODEL}/{instance['id']}/run")
        return int(instance["id"])

    def ready_task(self, instance: int) -> dict[str, Any] | None:
        """The instance's task this user may work now, if any."""
        answer = self.ok("GET", f"/tasks?process_instance_id={instance}")
        tasks = answer["results"] if isinstance(answer, dict) else answer
        return next((t for t in tasks if t["task_status"] == "READY"), None)

    def complete(self, instance: int, task: dict[str, Any], data: dict[str, Any]) -> tuple[int, Any]:
        return self.call("PUT", f"/tasks/{instance}/{task['id']}", data)

    def instance(self, instance: int) -> dict[str, Any]:
        return dict(self.ok("GET", f"/process-instances/{MODEL}/{instance}"))
