"""TLS for ``lakebox serve``: a certificate given by the user, or a self-signed one made
with ``cryptography`` and kept in the box (``tls/cert.pem``, ``tls/key.pem``, the key
readable by its owner only) so clients can pin it across restarts."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path

from lakebox.errors import ValidationError
from lakebox.extras import require

CERT_NAME, KEY_NAME = "cert.pem", "key.pem"
VALID_DAYS = 825  # the longest validity clients (Apple's, for one) accept for a server certificate


def fingerprint(cert_path: Path) -> str:
    """SHA-256 fingerprint of a PEM certificate, as colon-separated hex (what browsers show)."""
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def check_pair(cert: Path, key: Path) -> None:
    """Refuse a certificate/key pair that does not load (before the server starts)."""
    for path, what in ((cert, "certificate"), (key, "private key")):
        if not path.is_file():
            raise ValidationError(f"The TLS {what} {str(path)!r} does not exist.")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, ValueError) as e:
        raise ValidationError(
            f"The TLS certificate {str(cert)!r} and key {str(key)!r} do not load together ({e}); "
            "give the PEM certificate and its own private key."
        ) from e


def self_signed(folder: Path, hosts: Sequence[str] = ()) -> tuple[Path, Path, bool]:
    """The box's self-signed certificate and key under ``folder``, made on first use (or when
    expired or missing one of ``hosts``). Returns (cert, key, created)."""
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    names = _names(hosts)
    if cert_path.is_file() and key_path.is_file() and _still_good(cert_path, names):
        return cert_path, key_path, False
    require("cryptography", "--tls-self-signed")  # MissingDependencyError naming the serve extra
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lakebox " + (socket.gethostname() or "server"))])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, True


def _names(hosts: Sequence[str]) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1"]
    for host in [*hosts, socket.gethostname()]:
        host = host.strip("[]")
        if host and host not in ("0.0.0.0", "::") and host not in names:
            names.append(host)
    return names


def _still_good(cert_path: Path, names: list[str]) -> bool:
    try:
        from cryptography import x509
    except ImportError:
        return True  # cannot inspect: keep what exists
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    present = {str(v) for v in alt.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in alt.get_values_for_type(x509.IPAddress)}
    fresh = cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    return fresh and all((str(ipaddress.ip_address(n)) if _is_ip(n) else n) in present for n in names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def client_context(verify: bool | str | os.PathLike[str]) -> ssl.SSLContext | bool:
    """What httpx's ``verify=`` gets: True (system CAs), False (no check: testing only), or an
    SSL context trusting the given PEM file (for example a box's self-signed certificate)."""
    if isinstance(verify, bool):
        return verify
    path = Path(verify)
    if not path.is_file():
        raise ValidationError(f"verify={str(path)!r}: no such certificate file; give a PEM file, True or False.")
    return ssl.create_default_context(cafile=str(path))
