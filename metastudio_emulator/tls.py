"""A throwaway certificate authority and server certificate for ``tls=True``.

Clients verify the emulator like a real endpoint (no ``verify=False``): they trust the CA file
written here. The leaf covers ``127.0.0.1``, ``localhost``, ``::1`` and the configured host.
Keys are P-256 (fast to generate); files live in a private temporary directory removed when
the server stops.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    directory: str
    ca_file: str
    cert_file: str
    key_file: str

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _names(extra_host: str | None) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    wildcard_or_known = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "")  # noqa: S104 (not a bind)
    if extra_host and extra_host not in wildcard_or_known:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(extra_host)))
        except ValueError:
            names.append(x509.DNSName(extra_host))
    return names


def generate(extra_host: str | None = None, directory: str | None = None) -> TlsFiles:
    """Create ``ca.pem``, ``server.pem`` (leaf + CA) and ``server.key`` in a new directory."""
    out = directory or tempfile.mkdtemp(prefix="metastudio-emulator-tls-")
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MetaStudio emulator test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_names(extra_host)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    files = TlsFiles(
        directory=out,
        ca_file=os.path.join(out, "ca.pem"),
        cert_file=os.path.join(out, "server.pem"),
        key_file=os.path.join(out, "server.key"),
    )
    with open(files.ca_file, "wb") as fh:
        fh.write(ca_cert.public_bytes(pem))
    with open(files.cert_file, "wb") as fh:
        fh.write(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    fd = os.open(files.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files
