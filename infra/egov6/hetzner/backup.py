"""Backup target in production: a Hetzner Storage Box in the *other* German location, one sub-account per
host (each client sees only its own directory; append-only borg keys are set by the backup role)."""

from __future__ import annotations

import string
from dataclasses import dataclass

import pulumi
import pulumi_hcloud as hcloud
import pulumi_random as random


@dataclass
class BackupStorageArgs:
    name: str
    location: str
    box_type: str
    clients: list[str]
    labels: dict[str, str]
    protect: bool


# Hetzner refuses a Storage Box password without an upper- and a lowercase letter, a digit and a special
# character (of its own list; "-_." are in it and need no quoting anywhere).
PASSWORD_LENGTH = 32
PASSWORD_SPECIAL = "-_."  # noqa: S105 the allowed special characters, not a password
PASSWORD_MINIMA = {"min_upper": 1, "min_lower": 1, "min_numeric": 1, "min_special": 1}


def password_problems(password: str) -> list[str]:
    """What Hetzner's Storage Box password policy would refuse in this password (empty: accepted)."""
    classes = {
        "an uppercase letter": string.ascii_uppercase,
        "a lowercase letter": string.ascii_lowercase,
        "a digit": string.digits,
        "a special character": PASSWORD_SPECIAL,
    }
    problems = [f"no {name}" for name, allowed in classes.items() if not set(password) & set(allowed)]
    if not 12 <= len(password) <= 128:
        problems.append(f"{len(password)} characters (12 to 128)")
    return problems


def _password(name: str, parent: pulumi.Resource) -> random.RandomPassword:
    # Generated, kept only as a Pulumi secret in the state; borg itself uses SSH keys.
    return random.RandomPassword(
        name,
        length=PASSWORD_LENGTH,
        special=True,
        override_special=PASSWORD_SPECIAL,
        min_upper=PASSWORD_MINIMA["min_upper"],
        min_lower=PASSWORD_MINIMA["min_lower"],
        min_numeric=PASSWORD_MINIMA["min_numeric"],
        min_special=PASSWORD_MINIMA["min_special"],
        opts=pulumi.ResourceOptions(parent=parent),
    )


class BackupStorage(pulumi.ComponentResource):
    box: hcloud.StorageBox
    subaccounts: dict[str, hcloud.StorageBoxSubaccount]

    def __init__(self, name: str, args: BackupStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("egov6:backup:BackupStorage", name, None, opts)
        self.box = hcloud.StorageBox(
            f"{name}-box",
            name=args.name,
            location=args.location,
            storage_box_type=args.box_type,
            password=_password(f"{name}-box-password", self).result,
            # SSH only (borg); no Samba/WebDAV; reachable only from inside Hetzner's network (BAK-04).
            access_settings=hcloud.StorageBoxAccessSettingsArgs(
                reachable_externally=False,
                ssh_enabled=True,
                samba_enabled=False,
                webdav_enabled=False,
                zfs_enabled=False,
            ),
            # Read-only snapshots survive a compromised client that deletes from its repository.
            snapshot_plan=hcloud.StorageBoxSnapshotPlanArgs(max_snapshots=14, minute=0, hour=5),
            delete_protection=args.protect,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        box_id = self.box.id.apply(int)
        self.subaccounts = {
            client: hcloud.StorageBoxSubaccount(
                f"{name}-{client}",
                storage_box_id=box_id,
                home_directory=f"borg/{client}",
                password=_password(f"{name}-{client}-password", self).result,
                description=f"borg repository of {client}",
                access_settings=hcloud.StorageBoxSubaccountAccessSettingsArgs(
                    reachable_externally=False, ssh_enabled=True, samba_enabled=False, webdav_enabled=False
                ),
                labels=args.labels,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for client in args.clients
        }
        self.register_outputs({"storage_box_id": self.box.id})
