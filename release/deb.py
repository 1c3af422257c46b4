#!/usr/bin/env python3
"""Debian packages of the release binaries: dist/dumb-init_VERSION_DEBARCH.deb (stdlib only).

    python release/deb.py                  # the .deb for this machine, from a checkout
    python release/deb.py --arch aarch64   # another architecture's, from its bare binary

release/build.py calls ``build_debs`` once the bare binaries ``dumb-init_VERSION_ARCH`` are in
dist/: each package holds its architecture's binary byte for byte (no second build) as
/usr/bin/dumb-init, with the man page (docs/dumb-init.1), the copyright file, the changelog and
the lintian overrides kept in release/deb/. The command line does the same for one architecture
(this machine's, as dpkg names it, unless --arch says otherwise), first building the binary with
``release/build.py --arch ARCH --binaries-only`` if dist/ lacks it, and adds the package to an
existing SHA256SUMS.

Built with ``dpkg-deb`` from a control file in the repository, not with cargo-deb: dpkg-deb is
part of every Debian and Ubuntu system (no tool to fetch and compile), it packages a prebuilt
binary of any architecture as it is, and the control file says in plain text what the package
declares. The package has the name and files of Debian's own ``dumb-init`` and a higher version,
so ``dpkg -i`` upgrades that package in place, as Yelp's 1.2.5 .deb did: no Replaces, Conflicts
or Provides is needed (those are for a package of another name).

The package is reproducible: every mtime is one time (the last commit's, as release/build.py
takes it for the wheels; else $SOURCE_DATE_EPOCH; else the changelog's date), owners are root,
gzip streams carry no name or time, and dpkg-deb sorts the archive.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "release" / "deb"
MAN_PAGE = REPO / "docs" / "dumb-init.1"
PACKAGE = "dumb-init"

# release/build.py's architecture names (those of the bare binaries) to Debian's.
DEB_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7": "armhf",  # armv7-unknown-linux-musleabihf: hard-float, as Debian's armhf
    "i686": "i386",  # Debian's i386 port has required i686 since Debian 9
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

# Where each file goes in the package, and its mode.
BINARY = "usr/bin/dumb-init"
MAN = "usr/share/man/man1/dumb-init.1.gz"
DOC = "usr/share/doc/dumb-init"
OVERRIDES = "usr/share/lintian/overrides/dumb-init"


def log(*words: object) -> None:
    print("[deb]", *words, flush=True)


def deb_arch(arch_name: str) -> str:
    """Debian's name for one of release/build.py's architectures."""
    try:
        return DEB_ARCH[arch_name]
    except KeyError:
        sys.exit(f"release/deb.py: no Debian architecture for {arch_name!r}")


def deb_version(version: str) -> str:
    """The Debian version of a Cargo version: a pre-release (``1.4.0-rc.1``) takes ``~``, which
    dpkg sorts before the release (a hyphen would make it a Debian revision)."""
    return version.replace("-", "~", 1)


def deb_path(out: Path, version: str, arch_name: str) -> Path:
    return out / f"{PACKAGE}_{version}_{deb_arch(arch_name)}.deb"


def changelog_entry() -> tuple[str, int]:
    """The version and the time (seconds since the epoch) of the changelog's latest entry."""
    text = (SOURCES / "changelog").read_text()
    head = re.match(rf"{PACKAGE} \(([^)]+)\) ", text)
    trailer = re.search(r"^ -- .+ <.+>  (.+)$", text, re.MULTILINE)
    if head is None or trailer is None:
        sys.exit("release/deb.py: release/deb/changelog does not start with a Debian entry")
    return head.group(1), int(email.utils.parsedate_to_datetime(trailer.group(1)).timestamp())


def source_date_epoch() -> int:
    """The last commit's time, else $SOURCE_DATE_EPOCH, else the changelog's date: in that
    order, as release/build.py takes it for the wheels, so every artifact of a build has one
    time."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    if commit is not None and commit.returncode == 0 and commit.stdout.strip().isdigit():
        return int(commit.stdout)
    if value := os.environ.get("SOURCE_DATE_EPOCH"):
        return int(value)
    return changelog_entry()[1]


def gz(data: bytes) -> bytes:
    """``gzip -9n``: no file name and no time in the header, so the bytes depend on data alone."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def installed_size(root: Path) -> int:
    """Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per directory."""
    total = 0
    for path in root.rglob("*"):
        if path.is_relative_to(root / "DEBIAN"):
            continue
        total += 1 if path.is_dir() else -(-path.stat().st_size // 1024)
    return total


def stage(root: Path, binary: bytes, version: str, arch: str) -> None:
    """Lay out the package's files and DEBIAN/ under ``root``."""
    files = {
        BINARY: (binary, 0o755),
        MAN: (gz(MAN_PAGE.read_bytes()), 0o644),
        f"{DOC}/copyright": ((SOURCES / "copyright").read_bytes(), 0o644),
        # A native package (no Debian revision) names its changelog changelog.gz, not
        # changelog.Debian.gz (Debian policy 12.7; lintian checks it).
        f"{DOC}/changelog.gz": (gz((SOURCES / "changelog").read_bytes()), 0o644),
        OVERRIDES: ((SOURCES / "lintian-overrides").read_bytes(), 0o644),
    }
    for name, (data, mode) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    control = root / "DEBIAN"
    control.mkdir()
    md5sums = "".join(
        f"{hashlib.md5(data).hexdigest()}  {name}\n" for name, (data, _) in sorted(files.items())
    )
    (control / "md5sums").write_text(md5sums)
    template = (SOURCES / "control").read_text()
    size = installed_size(root)
    (control / "control").write_text(
        template.format(version=version, arch=arch, installed_size=size)
    )
    for path in control.iterdir():
        path.chmod(0o644)


def fix_metadata(root: Path, epoch: int) -> None:
    """Directories 0755 (mkdir's follow the umask; a TemporaryDirectory is 0700) and every
    mtime the same, so that the archive depends on the contents alone."""
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    for path in [*root.rglob("*"), root]:  # children first: setting them touches nothing above
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def build_deb(binary: Path, out: Path, version: str, arch_name: str, epoch: int) -> Path:
    """One package from the bare binary of ``arch_name``; returns its path in ``out``."""
    target = deb_path(out, version, arch_name)
    with tempfile.TemporaryDirectory(prefix="dumb-init-deb.") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        stage(root, binary.read_bytes(), deb_version(version), deb_arch(arch_name))
        fix_metadata(root, epoch)
        partial = target.with_name(f".{target.name}.partial")
        argv = ["dpkg-deb", "--root-owner-group", "--uniform-compression"]
        # gzip, not dpkg-deb's default (xz on Debian, zstd on Ubuntu, which Debian's dpkg
        # before 1.21.18 cannot unpack): every dpkg reads it, and the binary is 40 KB anyway.
        argv += ["-Zgzip", "-z9", "--build", str(root), str(partial)]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            sys.exit(f"release/deb.py: dpkg-deb failed:\n{result.stdout}{result.stderr}")
        partial.chmod(0o644)  # dpkg-deb's file follows the umask
        os.replace(partial, target)
    return target


def build_debs(out: Path, version: str, arch_names: list[str]) -> list[Path]:
    """A .deb in ``out`` for each of ``arch_names`` (release/build.py's names) from the bare
    binary ``out/dumb-init_VERSION_ARCH``; returns the packages' paths. Exits if a binary, the
    changelog entry for ``version`` or dpkg-deb is missing."""
    if shutil.which("dpkg-deb") is None:
        sys.exit("release/deb.py: no dpkg-deb: `apt-get install dpkg` (Debian and Ubuntu have it)")
    logged, _ = changelog_entry()
    if logged != deb_version(version):
        sys.exit(
            f"release/deb.py: release/deb/changelog's latest entry is {logged}, not "
            f"{deb_version(version)}: add an entry for this release"
        )
    epoch = source_date_epoch()
    built = []
    for name in arch_names:
        binary = out / f"{PACKAGE}_{version}_{name}"
        if not binary.is_file():
            sys.exit(f"release/deb.py: no {binary} to package")
        built.append(build_deb(binary, out, version, name, epoch))
        log(f"{name}: {built[-1].name}")
    return built


def add_sums(out: Path, paths: list[Path]) -> None:
    """Put ``paths`` into an existing ``out/SHA256SUMS`` (a line each, replacing any old one)."""
    sums = out / "SHA256SUMS"
    if not sums.is_file():
        return
    names = {p.name for p in paths}
    lines = [line for line in sums.read_text().splitlines() if line.split()[-1] not in names]
    lines += [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in paths]
    lines.sort(key=lambda line: line.split()[-1])
    partial = sums.with_name(".SHA256SUMS.partial")
    partial.write_text("".join(f"{line}\n" for line in lines))
    os.replace(partial, sums)


def cargo_version() -> str:
    match = re.search(r'^version = "(.+)"$', (REPO / "Cargo.toml").read_text(), re.MULTILINE)
    if not match:
        sys.exit("release/deb.py: no version in Cargo.toml")
    return match.group(1)


def native_arch() -> str:
    """This machine's architecture as release/build.py names it, from dpkg's name for it."""
    try:
        dpkg = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"release/deb.py: cannot ask dpkg for this machine's architecture: {e}")
    for name, debian in DEB_ARCH.items():
        if debian == dpkg:
            return name
    sys.exit(f"release/deb.py: no release binary for Debian architecture {dpkg!r}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--arch",
        choices=list(DEB_ARCH),
        help="release/build.py's architecture name; default: this machine's",
    )
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="default: dist/")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    name: str = args.arch or native_arch()
    version = cargo_version()
    binary = out / f"{PACKAGE}_{version}_{name}"
    if not binary.is_file():
        log(f"no {binary.name} in {out}: building it")
        build = [sys.executable, str(REPO / "release" / "build.py"), "--arch", name]
        build += ["--binaries-only", "--out", str(out)]
        if subprocess.run(build, check=False).returncode != 0:
            sys.exit(f"release/deb.py: {' '.join(build)} failed")
    debs = build_debs(out, version, [name])
    add_sums(out, debs)
    for deb in debs:
        print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
