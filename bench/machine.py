"""What the benchmark ran on: CPU, cores, kernel, distribution, memory, load, toolchain."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1]
    except OSError:
        pass
    return "?"


def _cmd(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) else "?"


def loadavg() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def describe() -> dict[str, str]:
    """A flat description of the machine, for the report's header."""
    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0])
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME=").strip('"'),
        "memory": f"{mem_kib / 1024 / 1024:.0f} GiB",
        "gcc": _cmd(["gcc", "--version"]),
        "rustc": _cmd(["rustc", "--version"]),
        "python": platform.python_version(),
    }
