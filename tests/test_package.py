"""The installed Python package: ``dumb_init.exec_path()``, ``__version__``,
``python -m dumb_init``, a static binary, and the wheel's contents and layouts.

These test the package's binary, ``exec_path()``; the rest of the suite tests
``dumb_init_bin`` (``$DUMB_INIT_BINARY`` when set). The first test checks that
both are the same binary, and says which each is when they are not.

The wheel checks need the wheel tox built (``$TOX_PACKAGE``); run outside tox,
they skip and say so.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testing import TIMEOUT

dumb_init = pytest.importorskip("dumb_init", reason="the dumb_init package is not installed")

REPO = Path(__file__).resolve().parent.parent


def cargo_version() -> str:
    match = re.search(r'^version = "(.+)"$', (REPO / "Cargo.toml").read_text(), re.MULTILINE)
    assert match, "no version in Cargo.toml"
    return match.group(1)


VERSION = cargo_version()
PT_DYNAMIC, PT_INTERP, DT_NEEDED = 2, 3, 1


def run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        argv, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def shared_libraries_needed(path: str) -> tuple[bool, int]:
    """Whether a 64-bit little-endian ELF file asks for an interpreter, and how
    many shared libraries its dynamic section names (DT_NEEDED entries)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE file"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    interp, needed = False, 0
    for i in range(phnum):
        kind, _, offset, _, _, size = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        interp |= kind == PT_INTERP
        if kind == PT_DYNAMIC:  # a static-pie binary has one, for its own relocations
            for at in range(offset, offset + size, 16):
                tag, _ = struct.unpack_from("<qQ", data, at)
                if tag == 0:
                    break
                needed += tag == DT_NEEDED
    return interp, needed


def wheel() -> Path:
    package = os.environ.get("TOX_PACKAGE", "")
    wheels = [Path(p) for p in package.split(os.pathsep) if p.endswith(".whl")]
    if not wheels:
        pytest.skip("no wheel to inspect: $TOX_PACKAGE is unset (run through tox)")
    return wheels[0]


def test_exec_path_is_the_binary_under_test(dumb_init_bin: str) -> None:
    """Otherwise the package tests below and the rest of the suite test two
    different programs, and a green run proves less than it says."""
    installed = dumb_init.exec_path()
    same = os.path.samefile(installed, dumb_init_bin) or (
        Path(installed).read_bytes() == Path(dumb_init_bin).read_bytes()
    )
    assert same, (
        f"the package tests test {installed} (dumb_init.exec_path()), the rest of the suite "
        f"{dumb_init_bin} ($DUMB_INIT_BINARY), and they differ: install the package built "
        "from this tree, or unset DUMB_INIT_BINARY"
    )


def test_exec_path_is_the_installed_binary() -> None:
    path = dumb_init.exec_path()
    assert os.path.isabs(path)
    assert os.access(path, os.X_OK)
    result = run(path, "--version")
    assert (result.returncode, result.stderr) == (0, f"dumb-init v{VERSION}\n")
    assert dumb_init.__version__ == VERSION


def test_binary_is_static() -> None:
    """No interpreter and no shared library: it runs in an empty image."""
    assert shared_libraries_needed(dumb_init.exec_path()) == (False, 0)


def test_elf_reader_sees_a_dynamic_binary() -> None:
    """The check above can fail: the Python running the tests is dynamic."""
    interp, needed = shared_libraries_needed(os.path.realpath(sys.executable))
    assert interp and needed > 0


def test_python_m_dumb_init_keeps_the_pid() -> None:
    """``python -m dumb_init`` replaces Python with dumb-init: the command's
    parent is the process that was started as Python."""
    child = subprocess.Popen(
        [sys.executable, "-m", "dumb_init", "sh", "-c", 'echo "$PPID"'],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = child.communicate(timeout=TIMEOUT)
    assert child.returncode == 0
    assert int(out) == child.pid


def test_python_m_dumb_init_passes_options_and_status() -> None:
    result = run(sys.executable, "-m", "dumb_init", "--remap-exit=3:0", "sh", "-c", "exit 3")
    assert result.returncode == 0
    result = run(sys.executable, "-m", "dumb_init", "--version")
    assert result.stderr == f"dumb-init v{VERSION}\n"


def test_exec_path_names_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dumb_init, "_scripts_dirs", lambda: [tmp_path])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "dumb-init")):
        dumb_init.exec_path()


def test_wheel_holds_exactly_binary_shim_metadata_and_licence() -> None:
    names = zipfile.ZipFile(wheel()).namelist()
    data = f"dumb_init-{VERSION}.data/scripts/dumb-init"
    man = f"dumb_init-{VERSION}.data/data/share/man/man1/dumb-init.1"
    shim = {"dumb_init/__init__.py", "dumb_init/__main__.py", "dumb_init/py.typed"}
    assert data in names
    assert shim <= set(names)
    # pip installs the man page as PREFIX/share/man/man1/dumb-init.1: `man dumb-init` finds it
    # from PREFIX/bin on PATH. It is the repository's, not the symlink maturin was given.
    assert zipfile.ZipFile(wheel()).read(man) == (REPO / "docs" / "dumb-init.1").read_bytes()
    dist_info = f"dumb_init-{VERSION}.dist-info/"
    others = set(names) - shim - {data, man}
    assert all(name.startswith(dist_info) for name in others), sorted(others)
    assert f"{dist_info}licenses/LICENSE" in names
    assert wheel().name.startswith(f"dumb_init-{VERSION}-py3-none-")


def test_target_install_layout(tmp_path: Path) -> None:
    """``pip install --target DIR``: the binary lands in DIR/bin, and
    exec_path() finds it there, not some other dumb-init on PATH."""
    target = tmp_path / "target"
    pip = run(
        sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel())
    )
    assert pip.returncode == 0, pip.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import dumb_init; print(dumb_init.exec_path())"
    result = run(sys.executable, "-c", code, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target / "bin" / "dumb-init")
    assert run(result.stdout.strip(), "true").returncode == 0


def test_prefix_install_has_the_man_page(tmp_path: Path) -> None:
    """``pip install --prefix P`` puts the man page in P/share/man/man1, where man-db looks for
    a P/bin on PATH (a virtualenv's bin, /usr/local/bin): ``man dumb-init`` finds it."""
    prefix = tmp_path / "prefix"
    # --ignore-installed: else pip sees the package of this environment and does nothing (or,
    # with --force-reinstall, uninstalls it from here).
    pip = run(
        *(sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed"),
        *("--prefix", str(prefix), str(wheel())),
    )
    assert pip.returncode == 0, pip.stderr
    page = prefix / "share" / "man" / "man1" / "dumb-init.1"
    assert page.read_bytes() == (REPO / "docs" / "dumb-init.1").read_bytes()
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed (Debian: apt-get install man-db)")
    env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    found = run(man, "-w", "dumb-init", env=env)
    assert (found.returncode, found.stdout.strip()) == (0, str(page)), found.stderr
