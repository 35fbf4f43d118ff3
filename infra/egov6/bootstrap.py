"""First boot of a host: the cloud-init user-data both provisioners hand over.

The Pulumi program passes it to each Hetzner server; the lab puts the very same document into each host's NoCloud
seed (``/var/lib/cloud/seed/nocloud/``), so the lab proves the bootstrap production relies on. It holds only what
never changes over a server's life: the automation account with its key, and the host's SSH host keys (generated
by the provisioner, so the controller can pin them before it ever connects). Admin accounts are not here: the base
role manages them from the stack on every converge, so an admin removed from the stack loses the account.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

AUTOMATION_USER = "egov6"  # the controller's account on every host (keys only, sudo); never a person
# The host key types egov6 generates (the base role's base_ssh_host_key_types): no ECDSA (NIST curves).
HOST_KEY_TYPES = ("ed25519", "rsa")
RSA_BITS = 4096


@dataclass(frozen=True)
class KeyPair:
    private_key: str  # OpenSSH format
    public_key: str  # "type base64"


def user_data(automation_public_key: str, host_keys: dict[str, KeyPair]) -> str:
    """``#cloud-config`` for one host: the automation account and exactly the given host keys."""
    missing = [kind for kind in HOST_KEY_TYPES if kind not in host_keys]
    if missing:
        raise ValueError(f"host keys missing: {', '.join(missing)}")
    document = {
        "users": [
            {
                "name": AUTOMATION_USER,
                "gecos": "egov6 automation (Ansible from the team's controller)",
                "shell": "/bin/bash",
                "lock_passwd": True,
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [automation_public_key.strip()],
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        # A locale every image has (no generation needed): services and logs read the same everywhere.
        "locale": "C.UTF-8",
        # Exactly these host keys: the image's are deleted; only types given here would be generated, and only
        # where missing (none is: all come below), so no ECDSA key ever appears.
        "ssh_deletekeys": True,
        "ssh_genkeytypes": list(HOST_KEY_TYPES),
        "ssh_keys": {
            f"{kind}_{half}": getattr(host_keys[kind], f"{half}_key").strip() + "\n"
            for kind in HOST_KEY_TYPES
            for half in ("private", "public")
        },
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1 << 16)


def known_hosts_lines(alias: str, host_keys: tuple[str, ...]) -> list[str]:
    """known_hosts entries for one host under its name (the ssh config sets HostKeyAlias to it)."""
    return [f"{alias} {' '.join(key.split()[:2])}" for key in host_keys]
