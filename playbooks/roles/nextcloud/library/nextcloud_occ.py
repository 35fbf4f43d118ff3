#!/usr/bin/python
"""Runs Nextcloud's occ the one way egov6 does it: through /usr/local/bin/egov6-occ (web user, no interaction).

Two modes:
- ``command``: run an occ command; ``changed`` comes from the output (``changed_regex``) or is false.
- ``system`` / ``app``: idempotent settings; each key is read first and written only when it differs.
"""

from __future__ import annotations

import json

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: nextcloud_occ
short_description: Run Nextcloud occ commands and set configuration idempotently
options:
  occ:
    description: The occ wrapper (runs as the web user, --no-interaction)
    type: path
    default: /usr/local/bin/egov6-occ
  command: {description: occ arguments (list), type: list, elements: str}
  changed_regex: {description: Output that means the command changed something, type: str}
  system: {description: "config:system values to keep (JSON-typed)", type: dict}
  app: {description: "app name for app config", type: str}
  app_settings: {description: "config:app values to keep (strings)", type: dict}
"""


def occ(module: AnsibleModule, args: list[str]) -> tuple[int, str, str]:
    return module.run_command([module.params["occ"], *args])


def _typed(value: object) -> tuple[str, str]:
    if isinstance(value, bool):
        return "boolean", "true" if value else "false"
    if isinstance(value, int):
        return "integer", str(value)
    return "string", str(value)


def set_system(module: AnsibleModule, settings: dict) -> list[str]:
    changed = []
    for key, wanted in settings.items():
        rc, out, _ = occ(module, ["config:system:get", key, "--output=json"])
        current = json.loads(out) if rc == 0 and out.strip() else None
        # An empty list is the same as no key; an empty string is not (skeletondirectory "" means "none").
        if current == wanted or (current is None and wanted in ([], {})):
            continue
        changed.append(key)
        if module.check_mode:
            continue
        if isinstance(wanted, (list, dict)):
            # Nested values are set element by element: occ config:system:set KEY INDEX --value=...
            occ(module, ["config:system:delete", key])
            items = wanted.items() if isinstance(wanted, dict) else enumerate(wanted)
            for index, item in items:
                kind, text = _typed(item)
                rc, out, err = occ(module, ["config:system:set", key, str(index), f"--value={text}", f"--type={kind}"])
                if rc != 0:
                    module.fail_json(msg=f"setting {key}.{index} failed: {err or out}")
        else:
            kind, text = _typed(wanted)
            rc, out, err = occ(module, ["config:system:set", key, f"--value={text}", f"--type={kind}"])
            if rc != 0:
                module.fail_json(msg=f"setting {key} failed: {err or out}")
    return changed


def set_app(module: AnsibleModule, app: str, settings: dict) -> list[str]:
    changed = []
    for key, wanted in settings.items():
        rc, out, _ = occ(module, ["config:app:get", app, key])
        if rc == 0 and out.rstrip("\n") == str(wanted):
            continue
        changed.append(key)
        if not module.check_mode:
            rc, out, err = occ(module, ["config:app:set", app, key, f"--value={wanted}"])
            if rc != 0:
                module.fail_json(msg=f"setting {app} {key} failed: {err or out}")
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "occ": {"type": "path", "default": "/usr/local/bin/egov6-occ"},
            "command": {"type": "list", "elements": "str"},
            "changed_regex": {"type": "str"},
            "system": {"type": "dict", "no_log": False},
            "app": {"type": "str"},
            "app_settings": {"type": "dict"},
        },
        mutually_exclusive=[["command", "system", "app_settings"]],
        required_together=[["app", "app_settings"]],
        supports_check_mode=True,
    )
    params = module.params
    if params["system"] is not None:
        keys = set_system(module, params["system"])
        module.exit_json(changed=bool(keys), changed_keys=keys)
    if params["app_settings"] is not None:
        keys = set_app(module, params["app"], params["app_settings"])
        module.exit_json(changed=bool(keys), changed_keys=keys)
    if not params["command"]:
        module.fail_json(msg="one of command, system or app_settings is required")
    if module.check_mode:
        module.exit_json(changed=False, skipped=True)
    rc, out, err = occ(module, params["command"])
    if rc != 0:
        module.fail_json(msg=f"occ {' '.join(params['command'])} failed ({rc})", stdout=out, stderr=err, rc=rc)
    import re

    changed = bool(params["changed_regex"] and re.search(params["changed_regex"], out))
    module.exit_json(changed=changed, stdout=out, stderr=err, rc=rc)


if __name__ == "__main__":
    main()
