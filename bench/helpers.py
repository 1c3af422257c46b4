"""The benchmark's own tiny C programs (bench/c/*.c), compiled here with `gcc -static`.

They replace shells and Python in every timed path: the true-like program, the signalled
child, the drivers that time signals, exits and process start-up, and the orphan maker.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, fields
from pathlib import Path

SRC = Path(__file__).resolve().parent / "c"


@dataclass(frozen=True)
class Helpers:
    """Paths of the compiled helpers (see each .c file's top comment)."""

    truelike: Path
    sleeper: Path
    withsig: Path
    sigchild: Path
    exiter: Path
    timerun: Path
    siglat: Path
    exitlat: Path
    storm: Path
    orphans: Path


def compile_helpers(out_dir: Path) -> Helpers:
    """Compile every helper into out_dir (skipping up-to-date ones)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = SRC / "common.h"
    paths: dict[str, Path] = {}
    for f in fields(Helpers):
        src = SRC / f"{f.name}.c"
        exe = out_dir / f"bench-{f.name}"
        newest = max(src.stat().st_mtime, header.stat().st_mtime)
        if not exe.exists() or exe.stat().st_mtime < newest:
            cmd = ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-o", str(exe), str(src)]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr}")
        paths[f.name] = exe
    return Helpers(**paths)
