"""The HTML report in a real headless browser (Debian chromium): it renders, the diagram shows, and nothing
is loaded from outside the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egov6.cli.main import app
from tests.browser import CHROMIUM, MISSING
from tests.browser import chromium as _chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=MISSING)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(app, ["audit", "production", "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "audit-production.html"


def test_report_renders_with_its_diagram(html_report: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path / "profile", "--dump-dom", html_report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="network-diagram"' in dom.stdout
    assert dom.stdout.count('class="host"') == 2
    assert "Record of processing activities" in dom.stdout


def test_screenshot_is_not_blank(html_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000",
                     html_report.as_uri())  # fmt: skip
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few KB


def _page_requests(html: Path, tmp_path: Path) -> list[str]:
    """URLs the page itself requested, from Chromium's network log (the browser's own update, clock and
    account checks carry the initiator "not an origin" and are left out)."""
    log = tmp_path / "netlog.json"
    done = _chromium(tmp_path / "profile", f"--log-net-log={log}", "--dump-dom", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    netlog = json.loads(log.read_text(encoding="utf-8"))
    start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted(
        params["url"]
        for event in netlog["events"]
        if event["type"] == start_job
        for params in [event.get("params", {})]
        if "url" in params and params.get("initiator") != "not an origin"
    )


def test_no_external_resource_is_requested(html_report: Path, tmp_path: Path) -> None:
    assert _page_requests(html_report, tmp_path) == []


def test_the_request_check_sees_a_page_request(html_report: Path, tmp_path: Path) -> None:
    """Control: the same report without its CSP and with one loopback image is caught by the check."""
    html = html_report.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace(
        "<body>", '<body><img src="http://127.0.0.1:9/control.png" alt="">'
    )
    control = tmp_path / "control.html"
    control.write_text(html, encoding="utf-8")
    assert _page_requests(control, tmp_path) == ["http://127.0.0.1:9/control.png"]
