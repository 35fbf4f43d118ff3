#!/usr/bin/env python3
"""Builds what a flow host installs, on the controller: the backend source, a wheelhouse of all its Python
dependencies and the built frontend, packed into one release.tar. Flow hosts need neither PyPI nor npm.

Run with the Python the hosts run (Debian 12's python3): environment markers such as
``python_full_version < "3.11.3"`` are resolved for it. Prints one line per step; safe to re-run (the work
folder is rebuilt, release.tar replaced atomically at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

# The MySQL driver needs MySQL headers to build; egov6 runs the engine on PostgreSQL.
LEFT_OUT = {"mysqlclient"}
# Not on PyPI in the release's versions: built from the release tree and the connector archive.
LOCAL = {"spiffworkflow-connector-command", "spiff-arena-common"}


def step(message: str) -> None:
    print(f"» {message}", flush=True)


# The build tools get a minimal environment: what they need to run and to reach the package registries, never
# the converge's (Ansible's settings, cloud tokens, secrets). The frontend's @carbon packages start IBM's telemetry
# when installed (a background process that calls home and logs its environment to /tmp): switched off, like
# npm's own calls home.
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "http_proxy", "https_proxy", "no_proxy")
KEPT_ENV_PREFIXES = ("PIP_", "npm_config_")  # registry and mirror settings of the controller
QUIET_ENV = {
    "IBM_TELEMETRY_DISABLED": "true",
    "DO_NOT_TRACK": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
}


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV or k.startswith(KEPT_ENV_PREFIXES)}
    return {**env, **QUIET_ENV, **(extra or {})}


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Runs a build tool in a process group of its own; whatever it left running in the background ends with it."""
    command = [str(a) for a in argv]
    process = subprocess.Popen(command, cwd=cwd, env=tool_env(env), start_new_session=True)
    try:
        returncode = process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    if returncode:
        raise subprocess.CalledProcessError(returncode, command)


def unpack(archive: Path, dest: Path) -> Path:
    """Upstream tag archives and the vendor archives both hold one top folder; it is dropped."""
    dest.mkdir(parents=True)
    run("tar", "-xf", archive, "--strip-components=1", "-C", dest)
    return dest


def name_of(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()


def dependencies(project: Path) -> list[str]:
    """A project's runtime requirements, from PEP 621 metadata or from Poetry's (the connector uses Poetry)."""
    with (project / "pyproject.toml").open("rb") as file:
        meta = tomllib.load(file)
    if "project" in meta:
        return list(meta["project"].get("dependencies", []))
    poetry = meta.get("tool", {}).get("poetry", {}).get("dependencies", {})
    return [name for name in poetry if name.lower() != "python"]


def requirements(backend: Path, common: Path, connector: Path, pins: list[str]) -> list[str]:
    """The backend's dependencies as PyPI has them, plus the local packages' own, with egov6's pins winning."""
    pinned = {name_of(p) for p in pins}
    wanted = [d for d in dependencies(backend) if name_of(d) not in LEFT_OUT | LOCAL]
    wanted += [d for d in dependencies(common) + dependencies(connector) if name_of(d) not in pinned]
    return wanted + pins


def build_frontend(source: Path, modeler: Path | None, dist: Path) -> None:
    if modeler:
        package = source / "package.json"
        manifest = json.loads(package.read_text(encoding="utf-8"))
        manifest["dependencies"]["bpmn-js-spiffworkflow"] = f"file:{modeler}"
        package.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    # npm install, not npm ci: the lock file's entry for a replaced dependency changes.
    run("npm", "install", "--no-audit", "--no-fund", "--loglevel=error", cwd=source)
    # Frontend and API on one origin: the API under /api (see the nginx site).
    run("npm", "run", "build", cwd=source, env={"VITE_APP_ROUTING_STRATEGY": "path_based"})
    shutil.copytree(source / "dist", dist)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, required=True, help="SpiffArena release archive")
    parser.add_argument("--connector", type=Path, required=True, help="spiffworkflow-connector-command archive")
    parser.add_argument("--modeler", type=Path, help="bpmn-js-spiffworkflow npm tarball (replaces the git dependency)")
    parser.add_argument("--pin", action="append", default=[], help="requirement that overrides the release's")
    parser.add_argument("--out", type=Path, required=True, help="build folder; release.tar is written there")
    args = parser.parse_args()

    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    release = work / "release"
    release.mkdir(parents=True)
    step(f"unpacking {args.engine.name} and {args.connector.name}")
    source = unpack(args.engine, work / "src")
    connector = unpack(args.connector, work / "connector")
    backend, common = source / "spiffworkflow-backend", source / "spiff-arena-common"

    step("building the backend's wheelhouse")
    run(sys.executable, "-m", "venv", work / "venv")
    pip = [work / "venv" / "bin" / "pip", "--disable-pip-version-check"]
    wheels = release / "wheels"
    run(*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, common, connector)
    (work / "requirements.txt").write_text("\n".join(requirements(backend, common, connector, args.pin)) + "\n")
    run(*pip, "wheel", "--quiet", "--wheel-dir", wheels, "--requirement", work / "requirements.txt")
    step(f"wheelhouse: {len(list(wheels.glob('*.whl')))} wheels")

    # The backend runs from its source tree (a wheel of it misses api.yml); its web entry point imports a helper
    # from tests/, so that folder stays.
    shutil.copytree(backend, release / "backend", ignore=shutil.ignore_patterns("local_wheels", "*.log"))
    step("building the frontend with npm")
    build_frontend(source / "spiffworkflow-frontend", args.modeler.resolve() if args.modeler else None,
                   release / "frontend")  # fmt: skip
    version = ".".join(str(part) for part in sys.version_info[:3])
    (release / "python-version").write_text(version + "\n", encoding="utf-8")
    (args.out / "python-version").write_text(version + "\n", encoding="utf-8")

    step("packing release.tar")
    partial = args.out / "release.tar.partial"
    with tarfile.open(partial, "w") as tar:
        for item in sorted(release.iterdir()):
            tar.add(item, arcname=item.name)
    partial.replace(args.out / "release.tar")
    shutil.rmtree(work)
    step(f"release built for Python {version}: {args.out / 'release.tar'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
