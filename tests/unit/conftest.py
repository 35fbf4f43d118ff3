"""Fixtures for unit tests: the shipped stack files as data, and a way to write variants of them."""

from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from egov6.config.loader import read_stack_file, repo_root, stack_path
from egov6.declared import Declaration
from egov6.hetzner.evaluate import evaluate

StackWriter = Callable[..., Path]


@pytest.fixture(scope="session")
def shipped() -> dict[str, dict[str, Any]]:
    return {name: read_stack_file(stack_path(name)) for name in ("lab", "staging", "production")}


@pytest.fixture
def production_data(shipped: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(shipped["production"])


@pytest.fixture(scope="session")
def production(shipped: dict[str, dict[str, Any]]) -> Declaration:
    return evaluate(copy.deepcopy(shipped["production"]), "production")


@pytest.fixture
def write_stack(tmp_path: Path) -> StackWriter:
    """Writes ``egov6:*`` data (namespace stripped) as a stack file and returns its path."""

    def write(data: dict[str, Any], name: str = "test", raw: str | None = None) -> Path:
        path = tmp_path / f"Pulumi.{name}.yaml"
        if raw is not None:
            path.write_text(raw, encoding="utf-8")
        else:
            document = {"config": {f"egov6:{key}": value for key, value in data.items()}}
            path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        return path

    return write


def load_script(path: Path, name: str) -> ModuleType:
    """A script a role ships (a file, not a package module), loaded to test its functions."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_release() -> ModuleType:
    """The workflow engine's release build (spiffworkflow role, files/build_release.py)."""
    return load_script(
        repo_root() / "playbooks" / "roles" / "spiffworkflow" / "files" / "build_release.py", "build_release"
    )
