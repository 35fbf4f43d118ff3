"""The Nextcloud role's release check (`egov6-verify-release`, gpgv against exactly one pinned key), tested offline
with throwaway keys: a release signed by the pinned key passes; an altered archive, a missing signature, a
signature by another key and a key other than the pinned one in the keyring are each refused with a clear reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "nextcloud"
VERIFY = ROLE / "files" / "egov6-verify-release"
# Nextcloud's release signing key (nextcloud.com/nextcloud.asc), as Nextcloud publishes it.
NEXTCLOUD_RELEASE_KEY = "28806A878AE423A28372792ED75899B9A724937A"

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg (throwaway keys) is not installed")


@dataclass(frozen=True)
class Signer:
    home: Path
    fingerprint: str

    def gpg(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["gpg", "--homedir", str(self.home), "--batch", "--pinentry-mode", "loopback",
                               "--passphrase", "", *args], capture_output=True, check=True, timeout=60)  # fmt: skip

    def keyring(self, path: Path) -> Path:
        path.write_bytes(self.gpg("--export", self.fingerprint).stdout)
        return path

    def sign(self, archive: Path) -> Path:
        signature = archive.with_name(archive.name + ".asc")
        self.gpg("--local-user", self.fingerprint, "--armor", "--detach-sign", "--output", str(signature),
                 str(archive))  # fmt: skip
        return signature


def _signer(name: str) -> Iterator[Signer]:
    home = Path(tempfile.mkdtemp(prefix="egov6-gpg-"))  # short: gpg-agent's socket lives in it
    try:
        subprocess.run(["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                        "--quick-gen-key", f"{name} <{name}@egov6.invalid>", "ed25519", "sign", "never"],
                       capture_output=True, check=True, timeout=60)  # fmt: skip
        listed = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--list-keys"], capture_output=True,
                                text=True, check=True, timeout=60).stdout  # fmt: skip
        fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
        yield Signer(home, fingerprint)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def publisher() -> Iterator[Signer]:
    yield from _signer("publisher")


@pytest.fixture(scope="module")
def stranger() -> Iterator[Signer]:
    yield from _signer("stranger")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    archive = tmp_path / "nextcloud-99.0.0.tar.bz2"
    archive.write_bytes(os.urandom(64_000))
    return archive


def _verify(keyring: Path, fingerprint: str, archive: Path) -> subprocess.CompletedProcess[str]:
    signature = archive.with_name(archive.name + ".asc")
    return subprocess.run([str(VERIFY), str(keyring), fingerprint, str(archive), str(signature)],
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


def test_a_release_signed_by_the_pinned_key_is_accepted(publisher: Signer, release: Path, tmp_path: Path) -> None:
    publisher.sign(release)
    done = _verify(publisher.keyring(tmp_path / "release.gpg"), publisher.fingerprint, release)
    assert done.returncode == 0, done.stderr
    assert f"signed by {publisher.fingerprint}" in done.stdout


def test_an_altered_archive_is_refused(publisher: Signer, release: Path, tmp_path: Path) -> None:
    publisher.sign(release)
    with release.open("r+b") as file:
        file.seek(32_000)
        file.write(b"egov6")
    done = _verify(publisher.keyring(tmp_path / "release.gpg"), publisher.fingerprint, release)
    assert done.returncode == 1
    assert "does not match the archive" in done.stderr


def test_a_release_without_signature_is_refused(publisher: Signer, release: Path, tmp_path: Path) -> None:
    done = _verify(publisher.keyring(tmp_path / "release.gpg"), publisher.fingerprint, release)
    assert done.returncode == 1
    assert "has no signature" in done.stderr and "never installed" in done.stderr


@pytest.mark.parametrize("swapped_keyring", [False, True], ids=["signed by another key", "keyring swapped"])
def test_a_release_signed_by_any_key_but_the_pinned_one_is_refused(
    swapped_keyring: bool, publisher: Signer, stranger: Signer, release: Path, tmp_path: Path
) -> None:
    """Another key's signature, with the publisher's keyring or with the other key's keyring put in its place in
    the repository (the signature is then valid, but not by the pinned key)."""
    stranger.sign(release)
    keyring = (stranger if swapped_keyring else publisher).keyring(tmp_path / "release.gpg")
    done = _verify(keyring, publisher.fingerprint, release)
    assert done.returncode == 1
    assert f"not by the pinned release key {publisher.fingerprint}" in done.stderr
    if swapped_keyring:
        assert f"signed by {stranger.fingerprint}," in done.stderr


def test_a_missing_release_key_is_refused(publisher: Signer, release: Path, tmp_path: Path) -> None:
    publisher.sign(release)
    done = _verify(tmp_path / "absent.gpg", publisher.fingerprint, release)
    assert done.returncode == 1 and "the release key" in done.stderr and "is missing" in done.stderr


def test_the_role_pins_nextclouds_release_key() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    assert defaults["nextcloud_gpg_fingerprint"] == NEXTCLOUD_RELEASE_KEY
    install = (ROLE / "tasks" / "install.yml").read_text(encoding="utf-8")
    assert "egov6-verify-release" in install and "gpg --verify" not in install and "- gpg\n" not in install


def test_the_shipped_release_key_is_the_pinned_one(tmp_path: Path) -> None:
    keyring = ROLE / "files" / "nextcloud-release.gpg"
    if not keyring.is_file():
        pytest.skip("Nextcloud's release key is not in the repository yet (it could not be fetched offline)")
    listed = subprocess.run(["gpg", "--homedir", str(tmp_path), "--with-colons", "--show-keys", str(keyring)],
                            capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
    primaries = [line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:")][:1]
    assert primaries == [NEXTCLOUD_RELEASE_KEY]


def test_a_stack_installing_an_upstream_release_without_the_key_is_refused_before_anything() -> None:
    from egov6.errors import Egov6Error
    from egov6.orchestrate import Stack, converge

    if (ROLE / "files" / "nextcloud-release.gpg").is_file():
        pytest.skip("the release key is in the repository")
    with pytest.raises(Egov6Error, match=r"Pulumi\.production\.yaml: egov6:nextcloud\.source: upstream.*nothing was"):
        converge(Stack.load("production"))
