"""The C dumb-init 1.2.5 built statically with musl: the build its own README recommends
(`CC=musl-gcc make`), here with -Os, and the strongest peer on start-up and size.

The source is Debian's: dumb-init_1.2.5.orig.tar.gz from the pool, accepted only when its
sha256 is the one Debian's dumb-init_1.2.5-2.dsc lists (and the one pinned below, so that a
.dsc fetched over the same plain-HTTP channel cannot vouch for a changed tarball on its own).
Download and build are cached in bench/out/c-musl/; nothing of it is committed. Every
failure raises `Unavailable` with the reason, and the caller skips the row with it.
"""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

POOL = "http://deb.debian.org/debian/pool/main/d/dumb-init/"
ORIG = "dumb-init_1.2.5.orig.tar.gz"
DSC = "dumb-init_1.2.5-2.dsc"
ORIG_SHA256 = "3eda470d8a4a89123f4516d26877a727c0945006c8830b7e3bad717a5f6efc4e"
TOP = "dumb-init-1.2.5"
# dumb-init.c includes VERSION.h, which the tarball ships ready-made (no xxd needed).
SOURCES = ("dumb-init.c", "VERSION.h")
CFLAGS = ("-std=gnu99", "-static", "-s", "-Os")
EXE = "dumb-init-1.2.5-musl"


class Unavailable(Exception):
    """The C musl build cannot be had; the message says why."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(url: str, dest: Path, timeout: float = 60) -> None:
    """Download url to dest (through a temporary file, so a cut transfer leaves nothing)."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            tmp.write_bytes(resp.read())
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise Unavailable(f"cannot download {url}: {exc}") from exc
    tmp.replace(dest)


def dsc_sha256(dsc_text: str, name: str) -> str | None:
    """The sha256 that a .dsc's Checksums-Sha256 field lists for the file `name`."""
    in_field = False
    for line in dsc_text.splitlines():
        if line.startswith("Checksums-Sha256:"):
            in_field = True
        elif in_field and line.startswith(" "):
            parts = line.split()
            if len(parts) == 3 and parts[2] == name:
                return parts[0]
        else:
            in_field = False
    return None


def verified_source(cache: Path) -> Path:
    """The orig tarball in cache, downloaded if needed, its sha256 checked against the .dsc."""
    dsc = cache / DSC
    if not dsc.exists():
        fetch(POOL + DSC, dsc)
    listed = dsc_sha256(dsc.read_text(errors="replace"), ORIG)
    if listed != ORIG_SHA256:
        dsc.unlink()
        raise Unavailable(f"{DSC} lists sha256 {listed} for {ORIG}, not the expected {ORIG_SHA256}")
    tar = cache / ORIG
    if not tar.exists() or sha256_of(tar) != listed:
        fetch(POOL + ORIG, tar)
    got = sha256_of(tar)
    if got != listed:
        tar.unlink()
        raise Unavailable(f"{ORIG} has sha256 {got}, but {DSC} lists {listed}")
    return tar


def build_command(musl_gcc: str, src: Path, out: Path) -> list[str]:
    return [musl_gcc, *CFLAGS, "-o", str(out), str(src)]


def build(cache: Path, musl_gcc: str, musl_version: str) -> Path:
    """The C musl build in cache, built from the verified source unless an up-to-date one is
    there. A stamp next to it records what it was built from and with; a change rebuilds."""
    cache.mkdir(parents=True, exist_ok=True)
    exe = cache / EXE
    stamp = cache / (EXE + ".built-from")
    recipe = (
        f"{ORIG} sha256 {ORIG_SHA256}\nmusl {musl_version}\n"
        + " ".join(build_command("musl-gcc", Path("dumb-init.c"), Path(EXE)))
        + "\n"
    )
    if exe.exists() and stamp.exists() and stamp.read_text() == recipe:
        return exe
    tar = verified_source(cache)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        src = Path(tmp)
        # Only the two files the build reads are taken out, by name: no path in the
        # archive decides where anything is written.
        try:
            with tarfile.open(tar) as archive:
                for name in SOURCES:
                    member = archive.extractfile(f"{TOP}/{name}")
                    if member is None:
                        raise KeyError(name)
                    (src / name).write_bytes(member.read())
        except (KeyError, tarfile.TarError) as exc:
            raise Unavailable(f"{ORIG}: cannot read {TOP}/{SOURCES}: {exc!r}") from exc
        out = src / EXE
        cmd = build_command(musl_gcc, src / "dumb-init.c", out)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"{' '.join(cmd)}: {exc}") from exc
        if p.returncode != 0:
            tail = " ".join(p.stderr.strip().splitlines()[-3:])[:300]
            raise Unavailable(f"musl-gcc failed (exit {p.returncode}): {tail}")
        out.replace(exe)
    stamp.write_text(recipe)
    return exe
