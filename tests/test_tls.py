"""TLS: a self-signed certificate is refused by default, trusted through ca_bundle, and
verify = false is loud and allowed only on unprotected targets."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# Imported here, before any in-process pytester run: those runs drop the modules
# they imported, and a second copy of cryptography rejects the first one's objects.
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CHECK = """
import pytest

@pytest.mark.smoke
def test_health(http):
    assert http.get("/health").json() == {"status": "ok"}
"""


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Health(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(URL of a real HTTPS server on loopback, its self-signed certificate)."""
    cert, key = self_signed(tmp_path)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    httpd.shutdown()
    httpd.server_close()


def run(pytester: pytest.Pytester, url: str, extra: str) -> tuple[pytest.RunResult, Any]:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 5\nretries = 0\n{extra}'
    )
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=t")
    path = pytester.path / "deploy-verdict.json"
    data = json.loads(path.read_text())["predicate"]["deployability"] if path.exists() else None
    return result, data


def test_a_self_signed_certificate_is_refused_by_default(
    pytester: pytest.Pytester, https: tuple[str, Path]
) -> None:
    result, ext = run(pytester, https[0], "")
    assert result.ret == 1
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert "CERTIFICATE_VERIFY_FAILED" in ext["checks"][0]["message"]


def test_ca_bundle_trusts_the_targets_own_ca(
    pytester: pytest.Pytester, https: tuple[str, Path]
) -> None:
    url, cert = https
    pytester.path.joinpath("certs").mkdir()
    pytester.path.joinpath("certs", "ca.pem").write_bytes(cert.read_bytes())
    result, ext = run(pytester, url, 'ca_bundle = "certs/ca.pem"\nprotected = true\n')
    assert result.ret == 0
    assert ext["verdict"] == "DEPLOYABLE"


def test_verify_false_is_loud_and_warns(
    pytester: pytest.Pytester, https: tuple[str, Path]
) -> None:
    result, ext = run(pytester, https[0], "verify = false\n")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*!!! TLS CERTIFICATE VERIFICATION IS OFF*"])
    assert ext["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert ext["reasons"] == ["TLS certificate verification was off for target 't' "
                              "(verify = false)"]


def test_verify_false_is_refused_on_a_protected_target(
    pytester: pytest.Pytester, https: tuple[str, Path]
) -> None:
    result, ext = run(pytester, https[0], "verify = false\nprotected = true\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "targets.t.verify = false is not allowed on a protected target" in result.stderr.str()
    assert ext is None


def test_a_missing_ca_bundle_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result, _ = run(pytester, "https://127.0.0.1:9", 'ca_bundle = "nope.pem"\n')
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "targets.t.ca_bundle:" in result.stderr.str()
    assert "is not a file" in result.stderr.str()
