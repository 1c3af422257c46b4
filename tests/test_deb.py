"""The Debian packages in dist/ (release/deb.py, called by release/build.py).

For each bare binary dist/dumb-init_VERSION_ARCH there is dumb-init_VERSION_DEBARCH.deb, whose
control fields, files and bytes are checked with dpkg-deb; this machine's package installs with
``dpkg -i`` into a throwaway root (never the machine's own system), upgrades a dumb-init 1.2.5-2
installed there, and the binary installed there runs; lintian finds no error or warning that is
not overridden with a reason; the man page renders with ``man -l``; building twice gives the same
bytes.

Without dist/ (the default run), the tests skip and name what is missing; without dpkg-deb,
lintian or man they skip, but fail where $CI is set (.ci/run installs them).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing import ROOT, TIMEOUT, cargo_version

pytestmark = pytest.mark.release

DIST = ROOT / "dist"
BUILD = "`tox -e release` or `python release/build.py`"
SOURCES = ROOT / "release" / "deb"
MAN_PAGE = ROOT / "docs" / "dumb-init.1"


VERSION = cargo_version()


@dataclass(frozen=True)
class Arch:
    name: str  # release/build.py's, in dist/dumb-init_VERSION_NAME
    debian: str  # dpkg's, in dist/dumb-init_VERSION_DEBIAN.deb

    def __str__(self) -> str:
        return self.debian


ARCHES = (
    Arch("x86_64", "amd64"),
    Arch("aarch64", "arm64"),
    Arch("armv7", "armhf"),
    Arch("i686", "i386"),
    Arch("ppc64le", "ppc64el"),
    Arch("s390x", "s390x"),
    Arch("riscv64", "riscv64"),
)

# Every file of the package, with its mode; directories are 0755 (checked apart).
FILES = {
    "usr/bin/dumb-init": 0o755,
    "usr/share/doc/dumb-init/changelog.gz": 0o644,
    "usr/share/doc/dumb-init/copyright": 0o644,
    "usr/share/lintian/overrides/dumb-init": 0o644,
    "usr/share/man/man1/dumb-init.1.gz": 0o644,
}


def not_here(reason: str) -> None:
    """Skip naming what is missing; under $CI fail instead (.ci/run installs it)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run must install it)", pytrace=False)
    pytest.skip(reason)


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        not_here(f"{name} is not installed (Debian: apt-get install {package})")
        raise AssertionError("unreachable")
    return path


def run(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 60, umask: int = -1
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv, capture_output=True, env=env, timeout=timeout, umask=umask, check=False
    )


def deb(arch: Arch) -> Path:
    """dist/dumb-init_VERSION_DEBARCH.deb; skips when the architecture was not built, fails when
    its binary was built without the package."""
    if not DIST.is_dir():
        pytest.skip(f"no dist/: {BUILD} builds the release artifacts")
    binary = DIST / f"dumb-init_{VERSION}_{arch.name}"
    if not binary.is_file():
        pytest.skip(f"{binary.name} was not built (release/build.py names what it lacked)")
    path = DIST / f"dumb-init_{VERSION}_{arch.debian}.deb"
    assert path.is_file(), f"{binary.name} was built without its package {path.name}"
    return path


def native() -> Arch:
    """This machine's architecture, as dpkg names it."""
    tool("dpkg", "dpkg")
    name = run(["dpkg", "--print-architecture"]).stdout.decode().strip()
    for arch in ARCHES:
        if arch.debian == name:
            return arch
    pytest.skip(f"no release binary for this machine's architecture {name}")
    raise AssertionError("unreachable")


def control(path: Path) -> dict[str, str]:
    """The package's control fields (continuation lines joined with newlines)."""
    tool("dpkg-deb", "dpkg")
    result = run(["dpkg-deb", "--field", str(path)])
    assert result.returncode == 0, result.stderr
    fields: dict[str, str] = {}
    name = ""
    for line in result.stdout.decode().splitlines():
        if line.startswith(" "):
            fields[name] += "\n" + line
        else:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def data(path: Path) -> dict[str, tarfile.TarInfo | bytes]:
    """The package's data archive: each member's TarInfo and, for files, its bytes."""
    tool("dpkg-deb", "dpkg")
    result = run(["dpkg-deb", "--fsys-tarfile", str(path)])
    assert result.returncode == 0, result.stderr
    members: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./").rstrip("/")
            members[name] = member
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                members[name + "\0bytes"] = extracted.read()
    return members


@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_control_fields(arch: Arch) -> None:
    """dpkg-deb --info: the architecture, a version above Debian's 1.2.5-2, and the fields a
    Debian maintainer expects."""
    path = deb(arch)
    info = run(["dpkg-deb", "--info", str(path)])
    assert info.returncode == 0, info.stderr
    assert f"Architecture: {arch.debian}\n" in info.stdout.decode()
    fields = control(path)
    assert fields["Package"] == "dumb-init"
    assert fields["Architecture"] == arch.debian
    assert fields["Version"] == VERSION.replace("-", "~", 1)
    for name in ("Maintainer", "Section", "Priority", "Homepage", "Installed-Size"):
        assert fields.get(name), f"no {name} field"
    assert fields["Section"] == "utils" and fields["Priority"] == "optional"
    assert re.fullmatch(r".+ <[^@ ]+@[^@ ]+>", fields["Maintainer"]), fields["Maintainer"]
    assert fields["Homepage"].startswith("https://")
    summary, *long = fields["Description"].split("\n")
    assert summary and len(long) >= 3, "the description needs a long part"
    # Static: it needs nothing, not even libc6 (which Debian's own 1.2.5 package depends on).
    assert "Depends" not in fields and "Pre-Depends" not in fields
    # The same name as Debian's package and a higher version: dpkg -i upgrades that one.
    newer = run(["dpkg", "--compare-versions", fields["Version"], "gt", "1.2.5-2"])
    assert newer.returncode == 0, f"{fields['Version']} does not sort after Debian's 1.2.5-2"


@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_contents(arch: Arch) -> None:
    """dpkg-deb --contents: exactly the expected files, root-owned, with one mtime; the binary is
    the bare one byte for byte; the man page, copyright and changelog are the repository's."""
    path = deb(arch)
    listing = run(["dpkg-deb", "--contents", str(path)])
    assert listing.returncode == 0, listing.stderr
    assert "./usr/bin/dumb-init\n" in listing.stdout.decode()
    members = data(path)
    infos = {name: m for name, m in members.items() if isinstance(m, tarfile.TarInfo)}
    files = {name: m.mode for name, m in infos.items() if m.isfile()}
    assert files == FILES
    for name, member in infos.items():
        assert (member.uname, member.gname, member.uid, member.gid) == ("root", "root", 0, 0)
        if member.isdir():
            assert member.mode == 0o755, name
        else:
            assert member.isfile(), f"{name}: neither a file nor a directory"
    assert len({m.mtime for m in infos.values()}) == 1, "the mtimes differ: not reproducible"

    def content(name: str) -> bytes:
        value = members[name + "\0bytes"]
        assert isinstance(value, bytes)
        return value

    bare = DIST / f"dumb-init_{VERSION}_{arch.name}"
    assert content("usr/bin/dumb-init") == bare.read_bytes(), "not the bare binary"
    assert gzip.decompress(content("usr/share/man/man1/dumb-init.1.gz")) == MAN_PAGE.read_bytes()
    copyright_ = content("usr/share/doc/dumb-init/copyright")
    assert copyright_ == (SOURCES / "copyright").read_bytes()
    assert copyright_.startswith(
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    )
    changelog = gzip.decompress(content("usr/share/doc/dumb-init/changelog.gz"))
    assert changelog == (SOURCES / "changelog").read_bytes()
    assert changelog.startswith(f"dumb-init ({VERSION.replace('-', '~', 1)}) ".encode())
    for name in ("usr/share/man/man1/dumb-init.1.gz", "usr/share/doc/dumb-init/changelog.gz"):
        header = content(name)[:10]
        assert header[3] == 0 and header[4:8] == b"\0\0\0\0", f"{name}: gzip name or time set"


def test_rebuilt_package_is_identical(tmp_path: Path) -> None:
    """release/deb.py twice on the same binary, under different umasks and at different times,
    gives the same bytes: a rebuild from the same commit can be checked against SHA256SUMS."""
    arch = native()
    path = deb(arch)
    bare = DIST / f"dumb-init_{VERSION}_{arch.name}"
    built = []
    for n, umask in enumerate((0o022, 0o077)):
        out = tmp_path / f"out{n}"
        out.mkdir()
        shutil.copy(bare, out / bare.name)
        argv = [sys.executable, str(ROOT / "release" / "deb.py"), "--arch", arch.name]
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
        result = run([*argv, "--out", str(out)], env=env, umask=umask)
        assert result.returncode == 0, result.stderr.decode()
        built.append((out / path.name).read_bytes())
    assert built[0] == built[1]


def empty_root(path: Path) -> list[str]:
    """A dpkg database with nothing installed under ``path``; returns the dpkg command working
    on it as an unprivileged, chroot-less install would."""
    db = path / "var" / "lib" / "dpkg"
    for name in ("info", "updates", "triggers"):
        (db / name).mkdir(parents=True)
    for name in ("status", "available"):
        (db / name).touch()
    # --path-include last: it undoes any path-exclude of the host's /etc/dpkg/dpkg.cfg.d
    # (container images drop docs and man pages), which dpkg applies under --root too.
    return [
        tool("dpkg", "dpkg"),
        f"--root={path}",
        "--force-script-chrootless",
        "--force-not-root",
        "--path-include=*",
    ]


def old_package(tmp_path: Path) -> Path:
    """A stand-in for Debian's dumb-init 1.2.5-2: that name and version, and files at the paths
    Debian's package uses, two of which this package does not have."""
    root = tmp_path / "old"
    files = {
        "usr/bin/dumb-init": b"#!/bin/sh\necho old dumb-init\n",
        "usr/share/man/man1/dumb-init.1.gz": gzip.compress(b".TH OLD 1\n", mtime=0),
        "usr/share/doc/dumb-init/changelog.Debian.gz": gzip.compress(b"old\n", mtime=0),
        "usr/share/doc/dumb-init/README.md.gz": gzip.compress(b"old\n", mtime=0),
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / "usr/bin/dumb-init").chmod(0o755)
    (root / "DEBIAN").mkdir()
    fields = "Package: dumb-init\nVersion: 1.2.5-2\nArchitecture: all\n"
    fields += "Maintainer: Test <test@example.org>\nDescription: stand-in for Debian's 1.2.5-2\n"
    (root / "DEBIAN" / "control").write_text(fields)
    path = tmp_path / "dumb-init_1.2.5-2_all.deb"
    result = run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(path)])
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.timeout(120)
def test_installs_into_a_throwaway_root_and_runs(tmp_path: Path) -> None:
    """dpkg -i into an empty root: installed, the files where they belong, the binary there
    runs a command; installing over a dumb-init 1.2.5-2 upgrades it and removes its files."""
    arch = native()
    path = deb(arch)
    root = tmp_path / "root"
    dpkg = empty_root(root)

    result = run([*dpkg, "-i", str(old_package(tmp_path))])
    assert result.returncode == 0, result.stderr.decode()
    assert (root / "usr/share/doc/dumb-init/README.md.gz").is_file()

    result = run([*dpkg, "-i", str(path)])
    assert result.returncode == 0, result.stderr.decode()
    assert f"Unpacking dumb-init ({VERSION}) over (1.2.5-2)" in result.stdout.decode()
    status = run([*dpkg, "--status", "dumb-init"]).stdout.decode()
    assert "Status: install ok installed\n" in status
    assert f"Version: {VERSION}\n" in status
    assert not (root / "usr/share/doc/dumb-init/README.md.gz").exists(), "1.2.5-2's file left"
    listed = run([*dpkg, "--listfiles", "dumb-init"]).stdout.decode().splitlines()
    assert sorted(p for p in listed if p.lstrip("/") in FILES) == sorted(f"/{p}" for p in FILES)
    for name in FILES:
        assert (root / name).is_file(), name
    verify = run([*dpkg, "--verify", "dumb-init"])
    assert verify.returncode == 0 and not verify.stdout, verify.stdout.decode()

    installed = root / "usr/bin/dumb-init"
    assert installed.read_bytes() == (DIST / f"dumb-init_{VERSION}_{arch.name}").read_bytes()
    version = run([str(installed), "--version"])
    assert (version.returncode, version.stderr) == (0, f"dumb-init v{VERSION}\n".encode())
    child = run([str(installed), "--", "sh", "-c", "echo $PPID; exit 3"], timeout=TIMEOUT)
    assert child.returncode == 3, child.stderr
    assert child.stdout.strip().isdigit()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_lintian(arch: Arch) -> None:
    """lintian: no error and no warning that release/deb/lintian-overrides does not override
    with its reason."""
    path = deb(arch)
    lintian = tool("lintian", "lintian")
    result = run([lintian, "--fail-on", "error,warning", "--info", str(path)], timeout=240)
    report = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, report
    assert not re.search(r"^[EW]: ", report, re.MULTILINE), report


def test_man_page_renders() -> None:
    """man -l renders the page, without a groff warning, with every section."""
    man = tool("man", "man-db")
    env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat", "LC_ALL": "C.UTF-8"}
    result = run([man, "--warnings", "-l", str(MAN_PAGE)], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"", result.stderr.decode()
    text = result.stdout.decode()
    assert text.startswith("DUMB-INIT(1)")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "SIGNALS"):
        assert f"\n{section}\n" in text, section
    for section in ("EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert f"\n{section}\n" in text, section
    assert "--grace-period=SECONDS" in text and "DUMB_INIT_WAIT_ALL=1" in text
