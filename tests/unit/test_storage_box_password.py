"""Storage Box passwords satisfy Hetzner's password policy: what Hetzner would refuse is refused here first."""

from __future__ import annotations

import secrets
import string

from egov6.declared import Declaration
from egov6.hetzner.backup import PASSWORD_LENGTH, PASSWORD_MINIMA, PASSWORD_SPECIAL, password_problems

CLASSES = {
    "min_upper": string.ascii_uppercase,
    "min_lower": string.ascii_lowercase,
    "min_numeric": string.digits,
    "min_special": PASSWORD_SPECIAL,
}


def _like_random_password(props: dict[str, object]) -> str:
    """A password as pulumi_random builds one from these inputs: each class's minimum first, the rest drawn from
    the union of the allowed classes, then shuffled."""
    length = int(float(str(props["length"])))
    chosen = [secrets.choice(alphabet) for key, alphabet in CLASSES.items() for _ in range(int(float(str(props[key]))))]
    union = "".join(CLASSES.values())
    chosen += [secrets.choice(union) for _ in range(length - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def test_the_checker_names_what_hetzner_would_refuse() -> None:
    assert password_problems("Abcdefgh1-xyz") == []
    assert password_problems("abcdefgh1-xyz") == ["no an uppercase letter"]
    assert password_problems("ABCDEFGHIJ1234") == ["no a lowercase letter", "no a special character"]
    assert password_problems("Ab1-") == ["4 characters (12 to 128)"]


def test_every_storage_box_password_is_declared_with_the_policys_minima(production: Declaration) -> None:
    consumers = {r.name for r in production.resources if r.kind in ("StorageBox", "StorageBoxSubaccount")}
    passwords = [r for r in production.resources if r.kind == "RandomPassword" and r.name.endswith("-password")]
    assert len(passwords) == len(consumers) == 3
    for password in passwords:
        props = password.props
        assert props["length"] == PASSWORD_LENGTH and props["special"] is True
        assert props["overrideSpecial"] == PASSWORD_SPECIAL
        for key, minimum in PASSWORD_MINIMA.items():
            camel = "min" + key.removeprefix("min_").capitalize()
            assert props[camel] >= minimum, (password.name, camel)


def test_a_thousand_passwords_drawn_like_the_declared_ones_all_pass(production: Declaration) -> None:
    (declared, *_rest) = [r for r in production.resources if r.kind == "RandomPassword" and "box" in r.name]
    props = {
        "length": declared.props["length"],
        **{key: declared.props["min" + key.removeprefix("min_").capitalize()] for key in PASSWORD_MINIMA},
    }
    refused = [pw for pw in (_like_random_password(props) for _ in range(1000)) if password_problems(pw)]
    assert refused == []
