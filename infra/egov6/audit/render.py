"""Renders the report as JSON, Markdown (with a Mermaid diagram) or self-contained HTML (inline SVG).

The HTML loads nothing from anywhere: no scripts, no fonts, no images; a Content-Security-Policy of
``default-src 'none'`` makes the browser refuse anything that might slip in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

FORMATS = ("html", "md", "json")


def _roles(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One diagram node per role (a 500-host stack stays readable)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for host in report["hosts"]:
        groups[host["role"]].append(host)
    ports: dict[str, set[str]] = defaultdict(set)
    for row in report["exposure"]:
        if row["scope"] == "public" and row["protocol"] != "icmp":
            ports[row["role"]].add(f"{row['protocol']}/{row['port']}")
    return [
        {
            "role": role,
            "count": len(hosts),
            "locations": sorted({h["location"] for h in hosts}),
            "ports": sorted(ports[role], key=lambda p: int(p.split("/")[1].split("-")[0])),
        }
        for role, hosts in groups.items()
    ]


def diagram_svg(report: dict[str, Any]) -> str:
    roles = _roles(report)
    width = max(640, 230 * len(roles) + 80)
    backup_box = report["backup"]["target"] == "storage_box"
    # The public ports of a role are listed inside its box, one per line: they never run into a neighbour.
    lines = max([len(role["ports"]) or 1 for role in roles] or [1])
    box_height = 100 + 12 * lines
    network_bottom = 170 + box_height + 20
    height = network_bottom + (110 if backup_box else 30)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="network-diagram" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="network diagram">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="9" refY="3" orient="auto">'
        '<path d="M0,0 L9,3 L0,6 z" fill="#444"/></marker></defs>',
        f'<rect x="{width / 2 - 90}" y="10" width="180" height="40" rx="20" fill="#eef" stroke="#446"/>',
        f'<text x="{width / 2}" y="35" text-anchor="middle" font-size="14">Internet</text>',
        f'<rect x="20" y="130" width="{width - 40}" height="{network_bottom - 130}" rx="8" fill="#f7f7f7" '
        'stroke="#888" stroke-dasharray="6 4"/>',
        f'<text x="30" y="150" font-size="12" fill="#555">private network {escape(report["network"]["subnet"])}</text>',
    ]
    for index, role in enumerate(roles):
        x = 40 + index * 230
        ports = role["ports"] or ["SSH (admin ranges) only"]
        parts += [
            f'<line x1="{width / 2}" y1="50" x2="{x + 100}" y2="170" stroke="#444" marker-end="url(#arrow)"/>',
            f'<rect class="host" x="{x}" y="170" width="200" height="{box_height}" rx="6" fill="#fff" stroke="#335"/>',
            f'<text x="{x + 100}" y="196" text-anchor="middle" font-size="14" font-weight="bold">'
            f"{escape(role['role'])} × {role['count']}</text>",
            f'<text x="{x + 100}" y="216" text-anchor="middle" font-size="11">'
            f"{escape(', '.join(role['locations']))}</text>",
            f'<text x="{x + 100}" y="232" text-anchor="middle" font-size="10" fill="#555">nftables default drop</text>',
            f'<text x="{x + 100}" y="246" text-anchor="middle" font-size="10" fill="#555">'
            "reachable from outside:</text>",
            f'<text class="ports" x="{x + 100}" y="248" text-anchor="middle" font-size="10" fill="#a33">'
            + "".join(f'<tspan x="{x + 100}" dy="12">{escape(port)}</tspan>' for port in ports)
            + "</text>",
        ]
    if backup_box:
        top = network_bottom + 30
        parts += [
            f'<rect x="{width / 2 - 130}" y="{top}" width="260" height="50" rx="6" fill="#efe" stroke="#363"/>',
            f'<text x="{width / 2}" y="{top + 30}" text-anchor="middle" font-size="12">Storage Box '
            f"({escape(report['backup']['location'])}): borg over SSH</text>",
            f'<line x1="{width / 2}" y1="{network_bottom}" x2="{width / 2}" y2="{top}" stroke="#363" '
            'marker-end="url(#arrow)"/>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def diagram_mermaid(report: dict[str, Any]) -> str:
    lines = ["```mermaid", "flowchart TB", '  internet(("Internet"))']
    lines.append(f'  subgraph private["private network {report["network"]["subnet"]}"]')
    for role in _roles(report):
        lines.append(f'    {role["role"]}["{role["role"]} × {role["count"]} ({", ".join(role["locations"])})"]')
    lines.append("  end")
    for role in _roles(report):
        lines.append(f'  internet -- "{", ".join(role["ports"]) or "SSH (admin ranges)"}" --> {role["role"]}')
    if report["backup"]["target"] == "storage_box":
        lines.append(f'  storagebox[("Storage Box {report["backup"]["location"]}")]')
        for role in _roles(report):
            lines.append(f"  {role['role']} -- borg/SSH --> storagebox")
    lines.append("```")
    return "\n".join(lines)


# Every value of the report is data from a stack file: the HTML report escapes it (autoescape; the templates end
# in .html.j2), the Markdown report too (a Markdown viewer passes raw HTML through, and | would split a table
# cell). The diagrams are built escaped and handed over as Markup.
_env = Environment(
    loader=PackageLoader("egov6.audit", "templates"),
    autoescape=select_autoescape(["html.j2"], default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _markdown_text(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    text = str(value)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(char, entity)
    return text


_md_env = _env.overlay(autoescape=False, finalize=_markdown_text)


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "md":
        # The Mermaid diagram holds only roles, locations, ports and the subnet: values the schema narrows to
        # enumerations and addresses, no free text.
        diagram = Markup(diagram_mermaid(report))  # noqa: S704
        return _md_env.get_template("report.md.j2").render(r=report, diagram=diagram)
    if fmt == "html":
        return _env.get_template("report.html.j2").render(r=report, diagram=diagram_svg(report))
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
