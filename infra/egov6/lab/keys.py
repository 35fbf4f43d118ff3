"""What the lab's provisioner generates where Pulumi would (``pulumi_tls``, ``pulumi_random``): SSH keys and the lab CA.

The lab CA stands in for the ACME server production uses; it signs the service hosts' certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from egov6.bootstrap import RSA_BITS, KeyPair

CA_DAYS = 3650


def new_ssh_key(kind: str, comment: str = "") -> KeyPair:
    private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        raise ValueError(f"unsupported SSH key type {kind}")
    private_text = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public_text = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return KeyPair(private_text, public_text.decode() + (f" {comment}" if comment else ""))


def new_lab_ca(stack: str) -> KeyPair:
    """A CA certificate (PEM) and its key (PEM): ECDSA P-384, CA:TRUE with pathlen 0, certificate signing only."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"egov6 lab CA ({stack})")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    key_text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyPair(key_text, certificate.public_bytes(serialization.Encoding.PEM).decode())


def server_certificate(ca: KeyPair, address: str, days: int = 30) -> KeyPair:
    """A certificate from the lab CA for a service on the bridge address (the lab's SMTP sink): its key (PEM) and
    certificate (PEM)."""
    ca_key = serialization.load_pem_private_key(ca.private_key.encode(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.public_key.encode())
    key = ec.generate_private_key(ec.SECP384R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA384())  # type: ignore[arg-type]
    )
    key_text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyPair(key_text, certificate.public_bytes(serialization.Encoding.PEM).decode())
