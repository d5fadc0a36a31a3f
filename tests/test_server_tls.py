"""TLS as users run it: ``lakebox serve --tls-self-signed`` (certificate made with
cryptography, kept in the box, fingerprint printed), ``--tls-cert/--tls-key``, the client's
``verify=`` (the box's certificate trusted, a wrong one and the system CAs refused), and the
warning for a non-loopback bind without TLS."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from http_server import free_port, running

import lakebox
from lakebox.errors import AuthError, ValidationError
from lakebox.server.tls import client_context, fingerprint, self_signed

CLI = "import sys; from lakebox.cli import main; sys.argv = ['lakebox', *sys.argv[1:]]; main()"


def _box(path: Path) -> str:
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("players", version=1, primary_key=["pid"], online_enabled=True)
        fg.insert(pa.table({"pid": pa.array([1, 2], pa.int64()), "age": pa.array([20.0, 30.0])}))
        fs.create_feature_view("ages", version=1, query=fg.select(["age"]))
        return project.create_api_key("reader", scopes=["read:online", "read:offline"])


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("tls")
    box = folder / "edge.lakebox"
    key = _box(box)
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    cert = box / "tls" / "cert.pem"
    with running(CLI, "serve", str(box), "--port", str(port), "--tls-self-signed", folder=folder, base=base,
                 verify=False) as proc:
        yield {"base": base, "key": key, "cert": cert, "box": box, **proc}


def test_the_self_signed_certificate_is_kept_in_the_box_and_its_fingerprint_printed(tls_server: dict[str, Any]) -> None:
    cert = tls_server["cert"]
    assert cert.is_file()
    key_file = cert.parent / "key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = tls_server["stderr"].read_text()
    match = re.search(r"fingerprint: ([0-9A-F:]{95})", printed)
    assert match and match[1] == fingerprint(cert), printed
    assert "https://127.0.0.1" in printed


def test_the_client_verifies_with_the_box_certificate(tls_server: dict[str, Any]) -> None:
    with lakebox.connect(tls_server["base"], api_key=tls_server["key"], verify=tls_server["cert"]) as remote:
        fv = remote.get_feature_store().get_feature_view("ages", 1)
        assert fv.get_feature_vector({"pid": 2}) == [30.0]


def test_system_cas_and_a_wrong_certificate_are_refused(tls_server: dict[str, Any], tmp_path: Path) -> None:
    with lakebox.connect(tls_server["base"], api_key=tls_server["key"]) as remote:
        with pytest.raises(AuthError, match="not trusted"):
            remote.get_feature_store().get_feature_view("ages", 1)
    other, _, created = self_signed(tmp_path / "other")
    assert created and fingerprint(other) != fingerprint(tls_server["cert"])
    with lakebox.connect(tls_server["base"], api_key=tls_server["key"], verify=other) as remote:
        with pytest.raises(AuthError, match="verify="):
            remote.get_feature_store().get_feature_view("ages", 1)


def test_plain_http_to_the_tls_port_gets_no_data(tls_server: dict[str, Any]) -> None:
    plain = tls_server["base"].replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        response = httpx.get(plain + "/api/v1/feature-views", headers={"Authorization": f"Bearer {tls_server['key']}"},
                             timeout=5)
        assert response.status_code >= 400  # if anything answers, it is not the data
        raise httpx.HTTPError("answered with an error")


def test_the_certificate_is_reused_on_restart(tmp_path: Path) -> None:
    cert, key, created = self_signed(tmp_path / "tls", ["127.0.0.1"])
    again, _, created_again = self_signed(tmp_path / "tls", ["127.0.0.1"])
    assert created and not created_again and fingerprint(cert) == fingerprint(again)
    _, _, for_new_name = self_signed(tmp_path / "tls", ["edge.example"])
    assert for_new_name  # a name the certificate does not cover makes a new one


def test_serve_with_a_given_certificate_and_key(tmp_path: Path) -> None:
    box = tmp_path / "given.lakebox"
    key = _box(box)
    cert, private, _ = self_signed(tmp_path / "mine")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    with running(CLI, "serve", str(box), "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(private),
                 folder=tmp_path, base=base, verify=client_context(cert)):
        response = httpx.get(base + "/api/v1/feature-groups", headers={"Authorization": f"Bearer {key}"},
                             verify=client_context(cert), timeout=10)
        assert response.status_code == 200 and response.json()[0]["name"] == "players"
    assert not (box / "tls").exists()


def test_a_mismatched_certificate_and_key_are_refused_before_binding(tmp_path: Path) -> None:
    from lakebox.server.app import serve

    cert, _, _ = self_signed(tmp_path / "a")
    _, other_key, _ = self_signed(tmp_path / "b")
    with lakebox.connect(tmp_path / "box.lakebox") as project:
        with pytest.raises(ValidationError, match="do not load together"):
            serve(project, port=free_port(), tls=(cert, other_key))
        with pytest.raises(ValidationError, match="does not exist"):
            serve(project, port=free_port(), tls=(tmp_path / "nope.pem", other_key))
    with pytest.raises(ValidationError, match="no such certificate"):
        lakebox.connect("https://127.0.0.1:1", verify=tmp_path / "missing.pem")


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_a_public_bind_without_tls_warns_about_clear_text(tmp_path: Path) -> None:
    box = tmp_path / "nokeys.lakebox"
    lakebox.connect(box).close()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-c", CLI, "serve", str(box), "--host", "0.0.0.0", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0  # refused: no API keys exist (nothing was bound)
    assert "without TLS" in result.stderr and "clear text" in result.stderr
    assert "Refusing to bind 0.0.0.0" in result.stderr
