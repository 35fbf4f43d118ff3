"""The stack-file reference, generated from the schema: every key with whether it is required, what it accepts,
its default, its meaning and an example. ``docs/stack-reference.md`` is this module's output (a unit test keeps
it current) and ``egov6 stack template`` writes an annotated starting file from the same rows."""

from __future__ import annotations

import datetime as dt
import ipaddress
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from egov6.config.loader import NAMESPACE, read_stack_file, stack_path
from egov6.config.schema import PATTERN_HELP, PLACEHOLDER, Role, StackConfig


@dataclass(frozen=True)
class Key:
    """One key of the stack file (``path`` without the namespace, ``[]`` marks a list entry, ``<role>`` a map)."""

    path: str
    required: bool
    accepts: str
    default: str
    meaning: str
    section: bool  # a mapping or a list of mappings: its keys follow


def _constraints(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("pattern", "ge", "le", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` → (X, True)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
    return annotation, False


# What a value of a plain type looks like in the file.
_PLAIN = {
    bool: "true or false",
    dt.date: "date YYYY-MM-DD",
    ipaddress.IPv4Network: "IPv4 network in CIDR notation, e.g. 10.0.0.0/16",
}


def _accepts(annotation: Any, limits: dict[str, Any]) -> str:
    origin = typing.get_origin(annotation)
    text = _PLAIN.get(annotation, "")
    if origin is Literal:
        text = "one of " + ", ".join(str(v) for v in typing.get_args(annotation))
    elif origin is list:
        (item,) = typing.get_args(annotation)
        inner = "entries (keys below)" if _model(item) else _accepts(item, {})
        text = f"list of {inner}" + (f", at least {limits['min_length']}" if limits.get("min_length") else "")
    elif origin is dict:
        text = f"mapping by role ({', '.join(typing.get_args(Role))}; keys below)"
    elif _model(annotation):
        text = "mapping (keys below)"
    elif annotation is int:
        low, high = limits.get("ge"), limits.get("le")
        text = f"whole number {low}–{high}" if low is not None and high is not None else "whole number"
    elif limits.get("pattern") in PATTERN_HELP:
        text = str(PATTERN_HELP[limits["pattern"]])
    elif annotation is str:
        text = f"text (at most {limits['max_length']} characters)" if limits.get("max_length") else "text"
    elif not text and "Network" in str(annotation):
        text = "network in CIDR notation, e.g. 203.0.113.0/24"
    return text or str(annotation)


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return ""
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(defaults below)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return "[]" if value == [] else str(value)


def stack_keys(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[Key]:
    """Every key of the schema, depth first, in the order the schema declares them."""
    keys: list[Key] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation, optional = _without_none(info.annotation)
        limits = _constraints(info)
        required = info.is_required()
        inner = _model(annotation)
        child_prefix = f"{path}."
        origin = typing.get_origin(annotation)
        if origin is list and _model(typing.get_args(annotation)[0]):
            inner, child_prefix = typing.get_args(annotation)[0], f"{path}[]."
        elif origin is dict:
            inner, child_prefix = typing.get_args(annotation)[1], f"{path}.<role>."
        meaning = info.description or ""
        if optional and not required and inner is not None:
            meaning = f"{meaning} (optional section)".strip()
        keys.append(Key(path, required, _accepts(annotation, limits), _default(info), meaning, inner is not None))
        if inner is not None:
            keys += stack_keys(inner, child_prefix)
    return keys


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _value_at(data: Any, path: str) -> Any:
    """The value at a reference path in a stack's data (first list entry, first role), or None."""
    for part in path.replace("[]", ".[]").split("."):
        if part == "[]":
            data = data[0] if isinstance(data, list) and data else None
        elif part == "<role>":
            data = next(iter(data.values()), None) if isinstance(data, dict) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def _example(stacks: list[dict[str, Any]], key: Key) -> str:
    """A value from the stack files shipped in stacks/ (production first): a real example, never an invented one."""
    if key.section:
        return ""
    for data in stacks:
        value = _value_at(data, key.path)
        if value is not None:
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            text = str(value).lower() if isinstance(value, bool) else text
            return text if len(text) <= 40 else text[:37] + "…"
    return ""


def example_stacks() -> list[dict[str, Any]]:
    """The ``egov6:`` data of the shipped stack files, production first."""
    stacks = []
    for name in ("production", "staging", "lab"):
        path = stack_path(name)
        if path.is_file():
            stacks.append(read_stack_file(path))
    return stacks


def reference_markdown() -> str:
    lines = [
        "# Stack file reference",
        "",
        "Generated from the schema (`infra/egov6/config/schema.py`) by `egov6 stack reference`; a unit test keeps",
        "this file current. A stack file is `stacks/Pulumi.<stack>.yaml`; every key below lives under `config:` as",
        f"`{NAMESPACE}:<top-level key>` (nested keys as YAML mappings). `[]` marks the keys of each list entry,",
        "`<role>` one of the host roles. Unknown keys are errors, so a typo never falls back to a default.",
        "",
        "Every text value is data: control characters, line breaks, template syntax (`{{ }}`, `{% %}`, `{# #}`)",
        "and leading or trailing blanks are refused.",
        "",
        "Examples are taken from the stack files in `stacks/` (production first).",
        "",
        "| key | required | accepts | default | meaning | example |",
        "|---|---|---|---|---|---|",
    ]
    stacks = example_stacks()
    for key in stack_keys():
        required = "yes" if key.required else ""
        example = _example(stacks, key)
        cells = (
            f"`{key.path}`",
            required,
            key.accepts,
            key.default and f"`{key.default}`",
            key.meaning,
            example and f"`{example}`",
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 16).strip().removesuffix("\n...")
    )


def _template_lines(model: type[BaseModel], indent: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """The keys of ``model`` as an annotated YAML mapping: defaults where the schema has one, a placeholder that
    ``egov6 check`` refuses (naming the key) where the cooperation must decide."""
    lines: list[str] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        annotation, optional = _without_none(info.annotation)
        limits = _constraints(info)
        origin = typing.get_origin(annotation)
        required = "required" if info.is_required() else f"default {_default(info) or 'empty'}"
        lines.append(f"{indent}# {info.description or name} ({_accepts(annotation, limits)}; {required})")
        if origin is list and _model(typing.get_args(annotation)[0]):
            entry = _template_lines(typing.get_args(annotation)[0], indent + "    ")
            first = next(i for i, line in enumerate(entry) if not line.lstrip().startswith("#"))
            entry[first] = f"{indent}  - {entry[first].lstrip()}"
            lines += [f"{indent}{name}:", *entry]
        elif origin is dict:
            lines.append(f"{indent}{name}:")
            for role in ("cloud", "flow"):
                lines += [f"{indent}  {role}:", *_template_lines(typing.get_args(annotation)[1], indent + "    ")]
        elif _model(annotation):
            # Optional sections stay out (lab, modeler), except the engine's: a stack with flow hosts needs it.
            if optional and not info.is_required() and name != "workflow":
                lines[-1] = f"{lines[-1]}: leave out unless needed"
                continue
            lines += [f"{indent}{name}:", *_template_lines(annotation, indent + "  ")]
        elif not info.is_required():
            default = info.default
            lines.append(f"{indent}{name}: {_scalar(default) if default is not None else 'null'}")
        elif origin is list:
            lines.append(f"{indent}{name}: [{PLACEHOLDER}]")
        else:
            lines.append(f"{indent}{name}: {PLACEHOLDER}")
    return lines


def stack_template() -> str:
    """An annotated starting file for a new cooperation's stack (``egov6 stack template``)."""
    body = _template_lines(StackConfig, "")
    config: list[str] = []
    for line in body:
        if line.startswith("#") or line.startswith(" ") or not line:
            config.append(f"  {line}")
        else:
            config.append(f"  {NAMESPACE}:{line}")
    head = [
        "# A new stack, written by `egov6 stack template`. Replace every CHANGE-ME (egov6 check names each one that",
        "# is left), review every default, then run `egov6 check`. Every key: docs/stack-reference.md.",
        "config:",
    ]
    return "\n".join(head + config) + "\n"
