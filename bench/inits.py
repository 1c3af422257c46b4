"""The inits under test: this tree's dumb-init (built here) and the peers from Debian.

Peers come from the distribution's packages only (apt-get), never vendored. A peer that
is missing and cannot be installed is skipped with a note.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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


def ours(binary: Path) -> Init:
    """Our dumb-init, checked to be usable (`--version` says dumb-init vX.Y.Z)."""
    out = version_output(binary)
    m = re.match(r"dumb-init v(\d+\.\d+\.\d+)", out)
    if not m:
        raise RuntimeError(f"{binary} --version printed {out!r}, not 'dumb-init vX.Y.Z'")
    return Init(
        "ours",
        f"dumb-init {m.group(1)} (this tree)",
        binary,
        out,
        f"this tree ({tree_revision()}), release profile",
        ours=True,
    )


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
