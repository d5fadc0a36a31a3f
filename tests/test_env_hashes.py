"""``lakebox env export --hashes``: hashes of the archives pip checks, from ``direct_url.json``
(an install from a wheel file) and from ``--wheels DIR``; what cannot be hashed (an index
install without its wheel at hand, an editable install) is a comment with the reason. The
file is checked by pip itself: ``pip install --require-hashes`` accepts it, and refuses it
once a wheel changes."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "lakebox.cli"]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, as a build backend writes it."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PIP, *args], capture_output=True, text=True, timeout=300, check=False)


def export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "env", "export", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow  # three pip runs
def test_exported_hashes_satisfy_pip_require_hashes(tmp_path: Path) -> None:
    wheels, site, again = tmp_path / "wheels", tmp_path / "site", tmp_path / "again"
    wheels.mkdir()
    alpha, beta = make_wheel(wheels, "alpha", "1.0"), make_wheel(wheels, "beta", "2.5")
    # alpha from its file (pip records the archive hash in direct_url.json), beta "from an index"
    done = pip("install", "--no-index", "--no-deps", "--target", str(site), str(alpha))
    assert done.returncode == 0, done.stderr
    done = pip("install", "--no-index", "--no-deps", "--find-links", str(wheels), "--target", str(site), "beta")
    assert done.returncode == 0, done.stderr
    direct = json.loads(next(site.glob("alpha-1.0.dist-info")).joinpath("direct_url.json").read_text())
    alpha_hash = hashlib.sha256(alpha.read_bytes()).hexdigest()
    assert direct["archive_info"]["hashes"]["sha256"] == alpha_hash

    partial = export("--hashes", "--path", str(site))
    assert partial.returncode == 1 and "beta==2.5" in partial.stderr
    assert f"alpha==1.0 \\\n    --hash=sha256:{alpha_hash}\n" in partial.stdout
    assert "# beta==2.5  # not hashed: installed from an index" in partial.stdout and "pip download" in partial.stdout

    full = export("--hashes", "--path", str(site), "--wheels", str(wheels))
    assert full.returncode == 0, full.stderr
    beta_hash = hashlib.sha256(beta.read_bytes()).hexdigest()
    assert f"beta==2.5 \\\n    --hash=sha256:{beta_hash}\n" in full.stdout
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(full.stdout)
    done = pip("install", "--no-index", "--find-links", str(wheels), "--require-hashes", "--target", str(again),
               "-r", str(requirements))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in again.glob("*.dist-info")) == ["alpha-1.0.dist-info", "beta-2.5.dist-info"]

    beta.write_bytes(beta.read_bytes() + b"\0")  # another archive under the same name
    done = pip("install", "--no-index", "--find-links", str(wheels), "--require-hashes", "--target",
               str(tmp_path / "refused"), "-r", str(requirements))  # fmt: skip
    assert done.returncode != 0 and "HASH" in done.stderr.upper()


def test_editable_and_source_installs_say_how_to_hash_them(tmp_path: Path) -> None:
    from importlib import metadata

    from lakebox.ops.pyhash import pin

    site = tmp_path / "site"
    for name, origin in (("gamma", {"url": "file:///src/gamma", "dir_info": {"editable": True}}),
                         ("delta", {"url": "https://example.invalid/delta.git", "vcs_info": {"vcs": "git"}})):  # fmt: skip
        info = site / f"{name}-3.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 3.0\n")
        (info / "direct_url.json").write_text(json.dumps(origin))
    dists = {d.metadata["Name"]: d for d in metadata.distributions(path=[str(site)])}
    gamma = pin(dists["gamma"], {})
    assert not gamma.hashes and "editable" in (gamma.reason or "") and "pip wheel --no-deps" in (gamma.reason or "")
    delta = pin(dists["delta"], {})
    assert not delta.hashes and "version control" in (delta.reason or "")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = make_wheel(wheels, "gamma", "3.0")
    from lakebox.ops.pyhash import archives

    assert pin(dists["gamma"], archives([wheels])).hashes == (
        f"sha256:{hashlib.sha256(built.read_bytes()).hexdigest()}",
    )
    assert export("--wheels", str(wheels)).returncode == 2  # --wheels without --hashes is a usage error
