"""Reads a stack file (``stacks/Pulumi.<stack>.yaml``) into a validated :class:`StackConfig`.

Errors name the file, the key path (``egov6:hosts.cloud.location``) and the reason; nothing is applied
before the whole file is valid.
"""

from __future__ import annotations

import difflib
import typing
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from egov6.config.schema import PATTERN_HELP, SLUG, Role, StackConfig, semantic_problems
from egov6.errors import ConfigError

NAMESPACE = "egov6"
# Other namespaces a stack file may carry; they belong to providers, not to egov6's schema.
FOREIGN_NAMESPACES = ("hcloud", "pulumi")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (YAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def repo_root() -> Path:
    """The checkout this package runs from (the folder holding ``Pulumi.yaml``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Pulumi.yaml").is_file():
            return parent
    return Path.cwd()


def stack_path(stack: str) -> Path:
    """A stack name (``lab``) or a path to a stack file."""
    candidate = Path(stack)
    if candidate.suffix in {".yaml", ".yml"}:
        return candidate
    return repo_root() / "stacks" / f"Pulumi.{stack}.yaml"


def stack_name(path: Path) -> str:
    name = path.name
    return name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def _key_path(loc: tuple[int | str, ...], namespace: str = NAMESPACE) -> str:
    head = f"{namespace}:" if namespace else ""
    text = f"{head}{loc[0]}" if loc else namespace or "-"
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


# German letters a slug spells out (the usual transliteration of town and club names).
_SPELLED_OUT = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"}


def slug_hint(value: object) -> str:
    """A slug close to what was written: ``Bad Soden-Salmünster`` → ``bad-soden-salmuenster``."""
    text = "".join(_SPELLED_OUT.get(char, char) for char in str(value))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(char if char.isalnum() else " " for char in text).split()
    return "-".join(words)[:32].strip("-")


def _model_at(loc: tuple[int | str, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The schema model that holds the last key of ``loc`` (None when the path leaves the schema)."""
    model: type[BaseModel] = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            if model is root or part not in typing.get_args(Role):
                return None
            continue  # a role of the hosts mapping
        found = [a for a in _annotations(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not found:
            return None
        model = found[0]
    return model


def _annotations(annotation: Any) -> list[Any]:
    """The annotation and everything nested in it (list items, dict values, union members)."""
    nested = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        nested += _annotations(arg)
    return nested


def _unknown_key(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    model = _model_at(loc, root)
    if model is None:
        return "unknown key (typo?)"
    valid = list(model.model_fields)
    near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    guess = f"did you mean '{near[0]}'? " if near else ""
    return f"unknown key: {guess}valid keys here: {', '.join(valid)}"


def _pattern_reason(pattern: str, value: object, reason: str) -> str:
    if pattern not in PATTERN_HELP:
        return reason
    text = f"must be {PATTERN_HELP[pattern]}"
    hint = slug_hint(value) if pattern == SLUG else ""
    return f"{text} (e.g. '{hint}')" if hint and hint != value and len(hint) >= 2 else text


def validation_problems(
    exc: ValidationError, root: type[BaseModel], namespace: str = NAMESPACE
) -> list[tuple[str, str]]:
    """Pydantic's errors as (key path, reason) a person can act on: what is allowed, not the bare expression."""
    problems = []
    for err in exc.errors():
        # Drop pydantic's internal steps (union members, validator names, "[key]") from the key path.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or ("-" in p and "(" in p))))
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = _unknown_key(loc, root)
        elif err["type"] == "missing":
            reason = "required key is missing"
        elif err["type"] == "string_pattern_mismatch":
            reason = _pattern_reason(str(err.get("ctx", {}).get("pattern", "")), err.get("input"), reason)
        problems.append((_key_path(loc, namespace), reason))
    return problems


def load_stack_mapping(data: dict[str, Any], source: str) -> StackConfig:
    """Validates the ``egov6:*`` keys (namespace already stripped) of one stack."""
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, StackConfig)) from None
    semantic = semantic_problems(cfg)
    if semantic:
        raise ConfigError(source, [(f"{NAMESPACE}:{key}", reason) for key, reason in semantic])
    return cfg


def read_yaml(path: Path, kind: str = "stack file") -> Any:
    """A YAML declaration of the repository, strictly: UTF-8, safe types only, no duplicate keys; a broken file is
    a :class:`ConfigError` naming the line."""
    if not path.is_file():
        raise ConfigError(str(path), [("-", f"{kind} not found")], kind)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        reason = f"not UTF-8 text (byte {exc.object[exc.start]:#04x}); save the file as UTF-8"
        raise ConfigError(str(path), [(f"line {line}", reason)], kind) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 strict SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "-"
        raise ConfigError(str(path), [(where, str(getattr(exc, "problem", exc)))], kind) from None


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``egov6:`` part of a stack file, with the namespace stripped."""
    document = read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ConfigError(str(path), [("config", "a stack file is a mapping with a 'config:' mapping")])
    data: dict[str, Any] = {}
    problems = []
    for key, value in document["config"].items():
        namespace, _, name = str(key).partition(":")
        if namespace == NAMESPACE and name:
            data[name] = value
        elif namespace not in FOREIGN_NAMESPACES:
            problems.append((str(key), f"unknown namespace: keys are '{NAMESPACE}:<key>'"))
    extra = set(document) - {"config", "secretsprovider", "encryptionsalt", "encryptedkey"}
    problems += [(str(key), "unknown top-level key of a Pulumi stack file") for key in sorted(extra)]
    if problems:
        raise ConfigError(str(path), problems)
    return data


def load_stack(stack: str | Path) -> StackConfig:
    path = stack if isinstance(stack, Path) else stack_path(stack)
    return load_stack_mapping(read_stack_file(path), str(path))
