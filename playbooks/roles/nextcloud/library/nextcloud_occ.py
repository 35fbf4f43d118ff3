#!/usr/bin/python
"""Runs Nextcloud's occ the one way egov6 does it: through /usr/local/bin/egov6-occ (web user, no interaction).

Two modes:
- ``command``: run one occ command; ``changed`` comes from the output (``changed_regex``) or is false. Secrets
  the command asks for (``answers``) are written to occ's stdin, never passed as arguments.
- ``state``: the declared state of apps, encryption and configuration, in as few PHP processes as possible.
  Everything is read once (``config:list all --private``: system values, every app's values and which apps are
  enabled); only differences are written, all settings at once through ``config:import`` on stdin, so that no
  value (passwords among them) ever appears in a process's argument list. A no-op costs one occ process.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: nextcloud_occ
short_description: Run Nextcloud occ commands and keep apps and configuration in their declared state
options:
  occ:
    description: The occ wrapper (runs as the web user, --no-interaction)
    type: path
    default: /usr/local/bin/egov6-occ
  command: {description: occ arguments (list), type: list, elements: str}
  changed_regex: {description: Output that means the command changed something, type: str}
  answers: {description: "answers to the command's questions, in order, on stdin (secrets)", type: list, elements: str}
  apps_enabled: {description: apps that must be enabled, type: list, elements: str, default: []}
  apps_disabled: {description: apps that must be disabled, type: list, elements: str, default: []}
  encryption: {description: switch server-side encryption on (never off), type: bool, default: false}
  system: {description: "config.php values to keep (JSON-typed); a list or dict replaces the whole value", type: dict}
  apps: {description: "app values to keep, {app: {key: value}}", type: dict}
"""

TRUE_WORDS = ("1", "true", "yes", "on")


def occ(
    module: AnsibleModule, args: list[str], data: str | None = None, answers: list[str] | None = None
) -> tuple[int, str, str]:
    if answers:
        # The wrapper lets occ ask (instead of --no-interaction) and read the answers from this stdin.
        return module.run_command(
            [module.params["occ"], *args],
            data="\n".join(answers),  # run_command ends the data with a newline
            environ_update={"EGOV6_OCC_ANSWERS_ON_STDIN": "1"},
        )
    return module.run_command([module.params["occ"], *args], data=data)


def same_system_value(current: Any, wanted: Any) -> bool:
    # An empty list or dict is the same as no key; an empty string is not (skeletondirectory "" means "none").
    return current == wanted or (current is None and wanted in ([], {}))


def same_app_value(current: Any, wanted: Any) -> bool:
    """App values are strings to occ; Nextcloud 29+ keeps some typed (bool, int) and lists them typed."""
    if current is None:
        return False
    if isinstance(current, bool):
        return current == (str(wanted).lower() in TRUE_WORDS)
    return str(current) == str(wanted)


def app_value(value: Any) -> str | int:
    """config:import takes strings and integers for app values."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, int) else str(value)


def read_state(module: AnsibleModule) -> dict[str, Any]:
    rc, out, err = occ(module, ["config:list", "all", "--private", "--output=json"])
    if rc != 0:
        module.fail_json(msg=f"occ config:list failed ({rc}): {(err or out).strip()[-300:]}")
    try:
        state = json.loads(out)
    except ValueError:
        module.fail_json(msg="occ config:list did not answer with JSON (is Nextcloud installed?)")
    return {"system": state.get("system") or {}, "apps": state.get("apps") or {}}


def enabled_apps(state: dict[str, Any]) -> set[str]:
    return {app for app, values in state["apps"].items() if str(values.get("enabled", "no")) not in ("no", "")}


def run_or_fail(module: AnsibleModule, args: list[str], data: str | None = None) -> None:
    rc, out, err = occ(module, args, data)
    if rc != 0:
        # The output of config:import never holds values; other commands here carry none either.
        module.fail_json(msg=f"occ {args[0]} failed ({rc}): {(err or out).strip()[-300:]}", rc=rc)


def keep_state(module: AnsibleModule) -> list[str]:
    params = module.params
    state = read_state(module)
    changed: list[str] = []
    enabled = enabled_apps(state)
    to_enable = [app for app in params["apps_enabled"] if app not in enabled]
    to_disable = [app for app in params["apps_disabled"] if app in enabled]
    encryption_on = str(state["apps"].get("core", {}).get("encryption_enabled", "no")) == "yes"
    system = {
        key: value
        for key, value in (params["system"] or {}).items()
        if not same_system_value(state["system"].get(key), value)
    }
    apps = {
        app: diff
        for app, values in (params["apps"] or {}).items()
        if (diff := {k: app_value(v) for k, v in values.items()
                     if not same_app_value(state["apps"].get(app, {}).get(k), v)})}  # fmt: skip
    changed += [f"app enabled: {app}" for app in to_enable] + [f"app disabled: {app}" for app in to_disable]
    if params["encryption"] and not encryption_on:
        changed.append("server-side encryption enabled")
    changed += [f"system: {key}" for key in system]
    changed += [f"{app}: {key}" for app, diff in apps.items() for key in diff]
    if module.check_mode:
        return changed
    if to_enable:
        run_or_fail(module, ["app:enable", *to_enable])
    if to_disable:
        run_or_fail(module, ["app:disable", *to_disable])
    if params["encryption"] and not encryption_on:
        run_or_fail(module, ["encryption:enable"])
    if system or apps:
        document = {key: value for key, value in (("system", system), ("apps", apps)) if value}
        run_or_fail(module, ["config:import"], data=json.dumps(document))
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "occ": {"type": "path", "default": "/usr/local/bin/egov6-occ"},
            "command": {"type": "list", "elements": "str"},
            "changed_regex": {"type": "str"},
            "answers": {"type": "list", "elements": "str", "no_log": True},
            "apps_enabled": {"type": "list", "elements": "str", "default": []},
            "apps_disabled": {"type": "list", "elements": "str", "default": []},
            "encryption": {"type": "bool", "default": False},
            "system": {"type": "dict", "no_log": False},
            "apps": {"type": "dict"},
        },
        mutually_exclusive=[["command", "system"], ["command", "apps"], ["answers", "system"], ["answers", "apps"]],
        supports_check_mode=True,
    )
    params = module.params
    if not params["command"]:
        items = keep_state(module)
        # The declared values include passwords: the result names what changed and which keys were declared,
        # never a value (a safeguard beside the task's no_log).
        declared = {
            "system": sorted(params["system"] or {}),
            "apps": {a: sorted(v) for a, v in (params["apps"] or {}).items()},
        }
        module.exit_json(changed=bool(items), changed_items=items, invocation={"module_args": declared})
    if module.check_mode:
        module.exit_json(changed=False, skipped=True)
    rc, out, err = occ(module, params["command"], answers=params["answers"])
    if rc != 0:
        module.fail_json(msg=f"occ {' '.join(params['command'])} failed ({rc})", stdout=out, stderr=err, rc=rc)
    changed = bool(params["changed_regex"] and re.search(params["changed_regex"], out))
    module.exit_json(changed=changed, stdout=out, stderr=err, rc=rc)


if __name__ == "__main__":
    main()
