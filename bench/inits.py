"""The inits under test: this tree's dumb-init twice (the wheel's default build, built here,
and the x86_64 release binary that release/build.py makes) and the peers: Debian's packages,
plus the C dumb-init built here with musl from Debian's source (bench/cmusl.py).

Peers come from the distribution only (apt-get, or Debian's source archive), never vendored.
An init that is missing and cannot be had is skipped with a note saying why.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cmusl

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABEL = "this dumb-init (wheel's default build)"
RELEASE_LABEL = "this dumb-init (release, musl lean)"
# release/build.py falls back to its "stable" profile where nightly cannot build the lean one.
RELEASE_STABLE_LABEL = "this dumb-init (release, musl stable fallback)"
C_MUSL_LABEL = "dumb-init 1.2.5 (musl static)"
RELEASE_ARCH = "x86_64"


@dataclass(frozen=True)
class Init:
    """One init binary and how to run it in its default mode."""

    key: str
    label: str
    path: Path
    version: str
    package: str  # where it came from: a Debian package version, or this tree
    ours: bool = False

    def argv(self, *cmd: str | Path) -> list[str]:
        """INIT -- CMD...: every init here accepts `--`."""
        return [str(self.path), "--", *(str(c) for c in cmd)]


@dataclass(frozen=True)
class PeerSpec:
    key: str
    package: str
    path: Path
    version_re: str  # what `--version` must print for this to be the peer we mean


PEERS: list[PeerSpec] = [
    PeerSpec("dumb-init", "dumb-init", Path("/usr/bin/dumb-init"), r"dumb-init v1\.2\."),
    PeerSpec("tini", "tini", Path("/usr/bin/tini"), r"tini version 0\."),
    PeerSpec("tini-static", "tini", Path("/usr/bin/tini-static"), r"tini version 0\."),
    PeerSpec("catatonit", "catatonit", Path("/usr/bin/catatonit"), r"catatonit|tini version"),
]


def version_output(path: Path) -> str:
    """First line of `PATH --version` (stdout or stderr)."""
    try:
        p = subprocess.run(
            [str(path), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"error: {exc}"
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0] if text else ""


def stdout_of(argv: list[str]) -> str | None:
    """The stripped stdout of a command that succeeded, or None (failed, missing, too slow)."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def deb_version(package: str) -> str:
    """Installed version of a Debian package, or ""."""
    return stdout_of(["dpkg-query", "-W", "-f=${Version}", package]) or ""


def apt_install(packages: list[str], notes: list[str]) -> None:
    """apt-get update once, then apt-get install -y each package (bounded)."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        notes.append(f"cannot install {', '.join(packages)}: needs root and apt-get")
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(
            ["apt-get", "update"], env=env, capture_output=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        notes.append("apt-get update timed out")
    for pkg in packages:
        try:
            p = subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", pkg],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if p.returncode != 0:
                last = (p.stderr.strip().splitlines() or ["?"])[-1]
                notes.append(f"apt-get install {pkg} failed: {last}")
        except subprocess.TimeoutExpired:
            notes.append(f"apt-get install {pkg} timed out")


def find_peers(install: bool, notes: list[str]) -> list[Init]:
    """The peers that are present (installing missing ones when allowed)."""
    missing = sorted({s.package for s in PEERS if not s.path.exists()})
    if missing and install:
        apt_install(missing, notes)
    peers: list[Init] = []
    for spec in PEERS:
        if not spec.path.exists():
            notes.append(f"{spec.key} skipped: {spec.path} not available")
            continue
        out = version_output(spec.path)
        if not re.search(spec.version_re, out):
            notes.append(f"{spec.key} skipped: {spec.path} --version says {out!r}")
            continue
        deb = deb_version(spec.package)
        ver = deb.split("-")[0] if deb else out
        label = f"{spec.key} {ver}"
        peers.append(Init(spec.key, label, spec.path, out, f"Debian {spec.package} {deb}"))
    return peers


def build_ours(target_dir: Path, timeout: float = 1200) -> Path:
    """cargo build --release of this tree into target_dir; returns the binary."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    cmd = ["cargo", "build", "--release", "--manifest-path", str(REPO / "Cargo.toml")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if p.returncode != 0:
        tail = "\n".join(p.stderr.strip().splitlines()[-20:])
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{tail}")
    return target_dir / "release" / "dumb-init"


def tree_revision() -> str:
    """git describe of this tree, or a note that it has none."""
    return (
        stdout_of(["git", "-C", str(REPO), "describe", "--always", "--dirty"]) or "unknown revision"
    )


def ours(binary: Path, key: str = "ours", label: str = DEFAULT_LABEL, how: str = "") -> Init:
    """Our dumb-init, checked to be usable (`--version` says dumb-init vX.Y.Z)."""
    out = version_output(binary)
    m = re.match(r"dumb-init v(\d+\.\d+\.\d+)", out)
    if not m:
        raise RuntimeError(f"{binary} --version printed {out!r}, not 'dumb-init vX.Y.Z'")
    how = how or f"this tree ({tree_revision()}), cargo build --release (what the wheel ships)"
    return Init(key, label, binary, out, how, ours=True)


def cargo_version() -> str:
    """The package version in Cargo.toml (its [package] section)."""
    text = (REPO / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[-1].split("\n[", 1)[0]
    m = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
    if not m:
        raise RuntimeError("no version in the [package] section of Cargo.toml")
    return m.group(1)


def _newest_source() -> float:
    """mtime of the newest file the binary is built from (src/, Cargo.toml, Cargo.lock)."""
    files = [*(REPO / "src").rglob("*.rs"), REPO / "Cargo.toml", REPO / "Cargo.lock"]
    return max(f.stat().st_mtime for f in files if f.exists())


def release_binary(notes: list[str], path: Path | None = None) -> Init | None:
    """The x86_64 lean musl binary of release/build.py: `path` when given, else
    dist/dumb-init_VERSION_x86_64, built by the release script when it is not there yet.
    None (with a note) when it cannot be had or cannot run here."""
    if platform.machine() != RELEASE_ARCH:
        notes.append(f"release binary skipped: it is {RELEASE_ARCH}, this is {platform.machine()}")
        return None
    built = "given with --release-binary"
    label = RELEASE_LABEL
    if path is None:
        path = REPO / "dist" / f"dumb-init_{cargo_version()}_{RELEASE_ARCH}"
        script = REPO / "release" / "build.py"
        built = f"dist/{path.name}, present before the run"
        if not path.exists() and script.exists():
            cmd = [sys.executable, str(script), "--arch", RELEASE_ARCH, "--binaries-only"]
            try:
                p = subprocess.run(
                    cmd, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                notes.append(f"release binary skipped: {' '.join(cmd[1:])}: {exc}")
                return None
            if p.returncode != 0:
                tail = " ".join(p.stderr.strip().splitlines()[-3:])[:300]
                notes.append(f"release binary skipped: {' '.join(cmd[1:])} failed: {tail}")
                return None
            built = f"dist/{path.name}, built by this run"
            # The script ends with a table: "ARCH PROFILE LINKER C-RUNTIME BYTES ARTIFACT".
            row = rf"^{RELEASE_ARCH}\s+(\w+)\s.*\s[\d,]+\s+dumb-init_"
            m = re.search(row, p.stdout, re.MULTILINE)
            profile = m.group(1) if m else "unknown"
            if profile != "lean":
                label = RELEASE_STABLE_LABEL
                notes.append(
                    f"release/build.py built the {profile} profile, not the lean one:"
                    " the release binary's figures are not those of a release"
                )
            built += f", {profile} profile"
        elif not path.exists():
            notes.append(
                f"release binary skipped: no dist/{path.name} and no release/build.py to build it"
            )
            return None
    if not path.exists():
        notes.append(f"release binary skipped: {path} does not exist")
        return None
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    if path.stat().st_mtime < _newest_source():
        notes.append(
            f"the release binary {path} (built {stamp}) is older than this tree's sources:"
            " its figures may not be this tree's; delete it to have it rebuilt"
        )
    how = f"{built} ({stamp}), release/build.py --arch {RELEASE_ARCH} --binaries-only"
    try:
        return ours(path.resolve(), "ours-release", label, how)
    except RuntimeError as exc:
        notes.append(f"release binary skipped: {exc}")
        return None


def c_musl_peer(cache: Path, install: bool, notes: list[str]) -> Init | None:
    """The C dumb-init 1.2.5 built with musl-gcc (bench/cmusl.py), installing musl-tools
    when musl-gcc is missing and that is allowed; None (with a note) when it cannot be had."""
    if not shutil.which("musl-gcc") and install:
        apt_install(["musl-tools"], notes)
    musl_gcc = shutil.which("musl-gcc")
    if not musl_gcc:
        notes.append(f"{C_MUSL_LABEL} skipped: no musl-gcc (Debian's musl-tools)")
        return None
    musl = deb_version("musl-dev") or "?"
    try:
        exe = cmusl.build(cache, musl_gcc, musl)
    except cmusl.Unavailable as exc:
        notes.append(f"{C_MUSL_LABEL} skipped: {exc}")
        return None
    out = version_output(exe)
    if not re.search(r"dumb-init v1\.2\.5", out):
        notes.append(f"{C_MUSL_LABEL} skipped: {exe} --version says {out!r}")
        return None
    how = (
        f"Debian source {cmusl.ORIG} (sha256 as in {cmusl.DSC}),"
        f" musl-gcc {' '.join(cmusl.CFLAGS)}, musl {musl}"
    )
    return Init("dumb-init-musl", C_MUSL_LABEL, exe, out, how)


def linkage(path: Path) -> str:
    """'static' or 'dynamic', from the ELF program headers (PT_INTERP present or not)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return "?"
        phoff = struct.unpack_from("<Q", head, 32)[0]
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        (ptype,) = struct.unpack_from("<I", table, i * phentsize)
        if ptype == 3:  # PT_INTERP
            return "dynamic"
    return "static"
