#!/usr/bin/python3
"""Ansible module of the storage role: one declared volume made ready to mount, never destroyed.

It probes the device (``blkid -p``, no cache) and decides:
- an empty device: (LUKS2 with the volume's key file, opened,) then a filesystem with egov6's label;
- egov6's own LUKS container or filesystem (found by its label): nothing to do but open the container;
- anything else (another filesystem, another label, a partition table, foreign LUKS): refused, nothing written.

The decision is a pure function (``plan``), tested without devices; the module runs what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOCUMENTATION = r"""
module: egov6_volume
short_description: Format a declared volume once (optionally LUKS2 first) and report its filesystem UUID
description:
  - Formats only a device without any signature; a device with egov6's label is left as it is; anything else
    stops with a message and nothing is written.
options:
  device: {description: The volume's device path (by-id)., type: path, required: true}
  label: {description: The label egov6 gives the filesystem and the LUKS header., type: str, required: true}
  fstype: {description: Filesystem to create (ext4 or xfs)., type: str, default: ext4, choices: [ext4, xfs]}
  encryption: {description: luks or none., type: str, default: none, choices: [luks, none]}
  key_file: {description: The LUKS key file on the host (encryption=luks)., type: path}
  mapper: {description: Name of the opened LUKS device under /dev/mapper (encryption=luks)., type: str}
"""

RETURN = r"""
uuid: {description: UUID of the filesystem (mount it by this)., type: str, returned: success}
luks_uuid: {description: UUID of the LUKS container (crypttab), or empty., type: str, returned: success}
commands: {description: The commands run (or that would run in check mode)., type: list, returned: always}
"""

LUKS_TYPE = "crypto_LUKS"
# LUKS2 with the distribution's strong defaults spelled out: AES-XTS with 512-bit keys, argon2id for the key slot
LUKS_FORMAT = ["--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64", "--key-size", "512",
               "--hash", "sha256", "--pbkdf", "argon2id"]  # fmt: skip


def mkfs(fstype: str, label: str, device: str) -> list[str]:
    if fstype == "xfs":
        return ["mkfs.xfs", "-q", "-L", label, device]
    # 1 % reserved for root (5 % of a 2 TB volume would be 100 GB nobody may use); lazy init: no full-disk write
    return ["mkfs.ext4", "-q", "-L", label, "-m", "1", "-E", "lazy_itable_init=1,lazy_journal_init=1", device]


class Foreign(Exception):
    """The device holds data egov6 did not put there."""


@dataclass
class Plan:
    commands: list[list[str]] = field(default_factory=list)
    filesystem_device: str = ""  # where the filesystem is (the device, or the opened LUKS device)
    reprobe: bool = False  # an existing LUKS container gets opened: plan again once its inside can be seen


def describe(found: dict[str, str]) -> str:
    if found.get("TYPE"):
        kind = found["TYPE"]
    elif found.get("PTTYPE"):
        kind = f"a {found['PTTYPE']} partition table"
    else:
        kind = "data"
    label = found.get("LABEL")
    return f"{kind}{f' labelled {label!r}' if label else ''}"


def filesystem_steps(found: dict[str, str], device: str, fstype: str, label: str) -> list[list[str]]:
    """What makes ``device`` hold egov6's filesystem: nothing when it does, mkfs when it holds nothing."""
    if not found:
        return [mkfs(fstype, label, device)]
    if found.get("TYPE") == fstype and found.get("LABEL") == label:
        return []
    raise Foreign(f"{device} holds {describe(found)}, which egov6 did not make (it makes {fstype} labelled "
                  f"{label!r}): not formatted, nothing mounted; check which volume this is")  # fmt: skip


def plan(
    found: dict[str, str],
    inner: dict[str, str] | None,
    device: str,
    label: str,
    fstype: str,
    encryption: str,
    key_file: str = "",
    mapper: str = "",
) -> Plan:
    """``found``: blkid's view of the device; ``inner``: of the opened LUKS device (None when it is not open)."""
    if encryption != "luks":
        if found.get("TYPE") == LUKS_TYPE:
            raise Foreign(f"{device} is LUKS-encrypted, but the stack declares no LUKS: nothing mounted")
        return Plan(filesystem_steps(found, device, fstype, label), device)
    opened = f"/dev/mapper/{mapper}"
    result = Plan(filesystem_device=opened)
    if not found:
        result.commands.append(["cryptsetup", "luksFormat", *LUKS_FORMAT, "--label", label, "--key-file", key_file,
                                device])  # fmt: skip
    elif found.get("TYPE") != LUKS_TYPE or found.get("LABEL") != label:
        raise Foreign(f"{device} holds {describe(found)}, not egov6's LUKS container labelled {label!r}: "
                      "not formatted, nothing opened or mounted; check which volume this is")  # fmt: skip
    if inner is None:
        result.commands.append(["cryptsetup", "open", "--type", "luks2", "--key-file", key_file, "--allow-discards",
                                device, mapper])  # fmt: skip
        if found:  # an existing container: its inside is unknown until it is open
            result.reprobe = True
            return result
    result.commands += filesystem_steps(inner or {}, opened, fstype, label)
    return result


def _probe(module, device: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rc, out, err = module.run_command(["blkid", "-p", "-o", "export", device])
    if rc == 2:  # nothing found: an empty device
        return {}
    if rc != 0:
        module.fail_json(msg=f"blkid could not read {device}: {err.strip()}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _run(module, commands: list[list[str]]) -> list[list[str]]:  # type: ignore[no-untyped-def]
    for command in commands:
        rc, _out, err = module.run_command(command)
        if rc != 0:
            module.fail_json(msg=f"`{' '.join(command)}` failed: {err.strip()}", commands=commands)
    return list(commands)


def main() -> None:
    import os

    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "device": {"type": "path", "required": True},
            "label": {"type": "str", "required": True},
            "fstype": {"type": "str", "default": "ext4", "choices": ["ext4", "xfs"]},
            "encryption": {"type": "str", "default": "none", "choices": ["luks", "none"]},
            "key_file": {"type": "path", "no_log": False},
            "mapper": {"type": "str"},
        },
        required_if=[("encryption", "luks", ("key_file", "mapper"))],
        supports_check_mode=True,
    )
    p = module.params
    device = p["device"]
    if not os.path.exists(device):
        module.fail_json(msg=f"the volume {device} is not attached to this host (no such device)", commands=[])
    mapper = p["mapper"] or ""
    found = _probe(module, device)
    opened = f"/dev/mapper/{mapper}"
    inner = _probe(module, opened) if p["encryption"] == "luks" and os.path.exists(opened) else None
    try:
        steps = plan(found, inner, device, p["label"], p["fstype"], p["encryption"], p["key_file"] or "", mapper)
    except Foreign as problem:
        module.fail_json(msg=str(problem), commands=[])
    if module.check_mode or not steps.commands:
        uuid = (inner if p["encryption"] == "luks" else found) or {}
        module.exit_json(changed=bool(steps.commands), commands=steps.commands, uuid=uuid.get("UUID", ""),
                         luks_uuid=found.get("UUID", "") if p["encryption"] == "luks" else "")  # fmt: skip
    ran = _run(module, steps.commands)
    if steps.reprobe:
        try:
            again = plan(found, _probe(module, opened), device, p["label"], p["fstype"], "luks", p["key_file"], mapper)
        except Foreign as problem:
            module.fail_json(msg=str(problem), commands=ran)
        ran += _run(module, again.commands)
    made = _probe(module, steps.filesystem_device)
    luks_uuid = _probe(module, device).get("UUID", "") if p["encryption"] == "luks" else ""
    module.exit_json(changed=True, commands=ran, uuid=made.get("UUID", ""), luks_uuid=luks_uuid)


if __name__ == "__main__":
    main()
