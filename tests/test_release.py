"""The release artifacts in dist/, as ``tox -e release`` builds them (release/build.py).

Every binary is static, of its architecture and at most 80 KB; each one this machine cannot run
natively runs the suite's ``emulated`` tests under ``qemu-ARCH-static`` (testing/emulation.py)
and prints the same ``--list-signals`` as x86_64's; the native one runs as PID 1 of a PID
namespace whose root holds only it and a static child. Each wheel has its tags, the bare binary
byte for byte, a right RECORD, and installs; SHA256SUMS sums every artifact; a second build of
one architecture from a clone in another directory gives the same bytes; the sdist builds
today's static glibc binary.

Without dist/ (the default run), qemu, gcc or unshare, the tests skip and name what is missing.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from testing import ROOT, TIMEOUT, base_env, cargo_version, emulation, proc
from testing.supervise import Init

pytestmark = pytest.mark.release

DIST = ROOT / "dist"
BUILD = "`tox -e release` or `python release/build.py`"
PT_DYNAMIC, PT_INTERP, PT_NOTE = 2, 3, 4
NT_GNU_ABI_TAG = 1


VERSION = cargo_version()


@dataclass(frozen=True)
class Arch:
    name: str  # in dist/dumb-init_VERSION_NAME
    machine: int  # the ELF header's e_machine
    bits: int
    byte_order: str  # struct's "<" or ">"
    platforms: frozenset[str]  # the wheel's platform tags
    qemu: str

    def __str__(self) -> str:
        return self.name

    @property
    def platform_arch(self) -> str:
        """The architecture part of the platform tags (armv7l for armv7)."""
        policy = r"(manylinux\d+|(many|musl)linux_\d+_\d+)_"
        (arch,) = {re.sub(f"^{policy}", "", tag) for tag in self.platforms}
        return arch


def tags(*policies: str) -> frozenset[str]:
    return frozenset(policies)


# The tags are the lowest PyPI accepts for each architecture (release/build.py says why, and why
# no tool checks them against PyPI's upload rules).
ARCHES = (
    Arch(
        "x86_64", 62, 64, "<",
        tags("manylinux1_x86_64", "manylinux_2_5_x86_64", "musllinux_1_1_x86_64"),
        "qemu-x86_64-static",
    ),
    Arch(
        "aarch64", 183, 64, "<",
        tags("manylinux2014_aarch64", "manylinux_2_17_aarch64", "musllinux_1_1_aarch64"),
        "qemu-aarch64-static",
    ),
    Arch(
        "armv7", 40, 32, "<",
        tags("manylinux2014_armv7l", "manylinux_2_17_armv7l", "musllinux_1_1_armv7l"),
        "qemu-arm-static",
    ),
    Arch(
        "i686", 3, 32, "<",
        tags("manylinux1_i686", "manylinux_2_5_i686", "musllinux_1_1_i686"),
        "qemu-i386-static",
    ),
    Arch(
        "ppc64le", 21, 64, "<",
        tags("manylinux2014_ppc64le", "manylinux_2_17_ppc64le", "musllinux_1_1_ppc64le"),
        "qemu-ppc64le-static",
    ),
    Arch(
        "s390x", 22, 64, ">",
        tags("manylinux2014_s390x", "manylinux_2_17_s390x", "musllinux_1_1_s390x"),
        "qemu-s390x-static",
    ),
    Arch(
        "riscv64", 243, 64, "<",
        tags("manylinux_2_17_riscv64"),
        "qemu-riscv64-static",
    ),
)  # fmt: skip
NATIVE = {"x86_64": "x86_64", "aarch64": "aarch64", "armv7l": "armv7", "i686": "i686"}.get(
    platform.machine(), platform.machine()
)
EMULATED = [arch for arch in ARCHES if arch.name != NATIVE]
NATIVE_ARCH = [arch for arch in ARCHES if arch.name == NATIVE]


def need_dist() -> None:
    if not DIST.is_dir():
        pytest.skip(f"no dist/: {BUILD} builds the release artifacts")


def binary(arch: Arch) -> Path:
    """dist/dumb-init_VERSION_ARCH, or skip naming it."""
    need_dist()
    path = DIST / f"dumb-init_{VERSION}_{arch.name}"
    if not path.is_file():
        pytest.skip(f"{path.name} was not built (release/build.py names what it lacked)")
    return path


def wheel(arch: Arch) -> Path:
    """The architecture's wheel in dist/, or skip naming it."""
    need_dist()
    found = sorted(DIST.glob(f"dumb_init-{VERSION}-py3-none-*_{arch.platform_arch}.whl"))
    if not found:
        pytest.skip(f"no {arch.name} wheel of {VERSION} in dist/")
    assert len(found) == 1, found
    return found[0]


def sdist() -> Path:
    need_dist()
    path = DIST / f"dumb_init-{VERSION}.tar.gz"
    if not path.is_file():
        pytest.skip(f"no {path.name} in dist/ (built without --binaries-only and with maturin)")
    return path


@dataclass(frozen=True)
class Elf:
    machine: int
    bits: int
    byte_order: str
    segments: list[int]  # the program headers' p_type values
    notes: list[tuple[bytes, int]]  # (owner, type) of each note in PT_NOTE segments


def read_elf(path: Path) -> Elf:
    """The parts of an ELF file that tell its architecture and how it is linked."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    bits = {1: 32, 2: 64}[data[4]]
    order = {1: "<", 2: ">"}[data[5]]
    (machine,) = struct.unpack_from(order + "H", data, 18)
    if bits == 64:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
    segments, notes = [], []
    for i in range(phnum):
        at = phoff + i * phentsize
        if bits == 64:
            kind, _, offset, _, _, size, _, align = struct.unpack_from(order + "IIQQQQQQ", data, at)
        else:
            kind, offset, _, _, size, _, _, align = struct.unpack_from(order + "IIIIIIII", data, at)
        segments.append(kind)
        pad = 8 if align == 8 else 4
        end, at = offset + size, offset
        while kind == PT_NOTE and at + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from(order + "III", data, at)
            notes.append((data[at + 12 : at + 12 + namesz].rstrip(b"\0"), note_type))
            at += 12 + -(-namesz // pad) * pad + -(-descsz // pad) * pad
    return Elf(machine, bits, order, segments, notes)


def run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_elf_reader_sees_a_dynamic_binary() -> None:
    """The static checks below can fail: the Python running the tests is dynamic glibc."""
    elf = read_elf(Path(os.path.realpath(sys.executable)))
    assert PT_INTERP in elf.segments and PT_DYNAMIC in elf.segments


@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_binary_is_static_and_of_its_architecture(arch: Arch) -> None:
    """No interpreter and no dynamic section: it runs in any image of its architecture,
    including ``FROM scratch``."""
    elf = read_elf(binary(arch))
    assert (elf.machine, elf.bits, elf.byte_order) == (arch.machine, arch.bits, arch.byte_order)
    assert PT_INTERP not in elf.segments
    assert PT_DYNAMIC not in elf.segments


LEAN_LIMIT = 80_000
"""Bytes a lean binary may take (the README's table gives each one's size)."""


@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_binary_is_at_most_80_kb(arch: Arch) -> None:
    assert binary(arch).stat().st_size <= LEAN_LIMIT


def not_here(reason: str) -> None:
    """Skip, naming what is missing; fail where $CI is set: CI must run the release checks."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the release checks must run here)", pytrace=False)
    pytest.skip(reason)


def qemu(arch: Arch) -> str:
    """The emulator that runs ``arch``'s binaries here, or skip naming it."""
    emulator = shutil.which(arch.qemu)
    if emulator is None:
        not_here(f"{arch.qemu} is not installed (Debian: apt-get install qemu-user-static)")
    assert emulator is not None
    return emulator


@pytest.mark.parametrize("arch", EMULATED, ids=str)
def test_emulated_list_signals_is_x86_64s(arch: Arch) -> None:
    """Signal names and numbers are the same on every architecture, byte for byte (the C
    library's differ: musl's SIGRTMIN is 35 everywhere, and mips numbers signals its own way)."""
    (reference,) = [a for a in ARCHES if a.name == "x86_64"]
    native = run(binary(reference), "--list-signals")
    emulated = run(qemu(arch), binary(arch), "--list-signals")
    assert native.returncode == emulated.returncode == 0
    assert native.stdout and emulated.stdout == native.stdout


@pytest.mark.parametrize("arch", EMULATED, ids=str)
@pytest.mark.timeout(600)
def test_emulated_behaviour(arch: Arch, tmp_path: Path) -> None:
    """The suite's ``emulated`` tests (testing/emulation.py says which and what is left out)
    against this architecture's binary under qemu-user, as one would run them by hand:
    ``DUMB_INIT_BINARY=dist/... DUMB_INIT_EMULATOR=qemu-ARCH-static pytest -m emulated``.
    Every listed test must have run and passed."""
    env = {
        **base_env(),
        "DUMB_INIT_BINARY": str(binary(arch)),
        emulation.EMULATOR_VARIABLE: qemu(arch),
    }
    version = run(qemu(arch), binary(arch), "--version")
    assert (version.returncode, version.stderr) == (0, f"dumb-init v{VERSION}\n")
    report = tmp_path / "report.xml"
    argv = [sys.executable, "-m", "pytest", "-m", "emulated", "-q", "-p", "no:cacheprovider"]
    argv += [f"--junitxml={report}", str(ROOT / "tests")]
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=570, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed: set[str] = set()
    for case in ElementTree.parse(report).iter("testcase"):
        if not any(child.tag in ("failure", "error", "skipped") for child in case):
            file = case.get("classname", "").replace(".", "/") + ".py"
            passed.add(f"{file}::{case.get('name', '').split('[')[0]}")
    assert sorted(set(emulation.EMULATED) - passed) == []


def static_program(source: Path, output: Path) -> None:
    """Compile a C program with ``gcc -static``, or skip naming what is missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the empty root needs a static test program")
    result = run(gcc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", output, source)
    if result.returncode != 0:
        pytest.skip(f"gcc -static cannot link (static C library missing?): {result.stderr}")


@pytest.mark.pid1
@pytest.mark.parametrize("arch", NATIVE_ARCH, ids=str)
def test_pid1_of_an_empty_root(arch: Arch, pid_namespace: None, tmp_path: Path) -> None:
    """The release binary as PID 1 of a new PID namespace whose root holds nothing but it and
    a static child (no /proc, /dev, shell or libraries): it starts the child as PID 2 and
    forwards SIGTERM to it, which kills it, and exits with 128 + 15."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(binary(arch), root / "dumb-init")
    static_program(ROOT / "testing" / "c" / "empty_root_child.c", root / "child")
    assert sorted(os.listdir(root)) == ["child", "dumb-init"]
    argv = ["unshare", "--pid", "--fork", "--mount", "chroot", str(root), "/dumb-init", "/child"]
    with Init(argv) as init:
        init.out.expect("pid 2 ppid 1 ready")
        dumb_init = proc.only_child(init.pid)  # unshare's child, chroot, then dumb-init
        assert proc.stat(dumb_init).comm == "dumb-init"
        os.kill(dumb_init, signal.SIGTERM)
        assert init.wait() == 128 + signal.SIGTERM
        assert init.err.readline() is None  # nothing on stderr


def record_problems(z: zipfile.ZipFile) -> list[str]:
    """What is wrong with a wheel's RECORD: every file listed once with its sha256 and size."""
    name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    problems, listed = [], set()
    for path, digest, size in csv.reader(io.StringIO(z.read(name).decode())):
        listed.add(path)
        if path == name:
            continue
        data = z.read(path)
        want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if (digest, size) != (f"sha256={want}", str(len(data))):
            problems.append(f"{path}: RECORD says {digest} {size}")
    if listed != set(z.namelist()):
        problems.append(f"RECORD lists {sorted(listed ^ set(z.namelist()))} wrongly")
    return problems


@pytest.mark.parametrize("arch", ARCHES, ids=str)
def test_wheel_tags_and_contents(arch: Arch) -> None:
    """Tagged manylinux and musllinux, holding the bare binary byte for byte (executable),
    the dumb_init package and metadata, with a RECORD that matches."""
    path = wheel(arch)
    name = re.fullmatch(rf"dumb_init-{re.escape(VERSION)}-py3-none-([\w.]+)\.whl", path.name)
    assert name, path.name
    assert set(name.group(1).split(".")) == arch.platforms
    with zipfile.ZipFile(path) as z:
        dist_info = f"dumb_init-{VERSION}.dist-info/"
        data = f"dumb_init-{VERSION}.data/scripts/dumb-init"
        man = f"dumb_init-{VERSION}.data/data/share/man/man1/dumb-init.1"
        package = {"dumb_init/__init__.py", "dumb_init/__main__.py", "dumb_init/py.typed"}
        names = set(z.namelist())
        assert {data, man, *package} <= names
        assert all(n.startswith(dist_info) for n in names - package - {data, man}), sorted(names)
        assert z.read(man) == (ROOT / "docs" / "dumb-init.1").read_bytes()
        for needed in ("METADATA", "WHEEL", "RECORD", "licenses/LICENSE"):
            assert dist_info + needed in names
        wheel_tags = re.findall(
            r"^Tag: py3-none-(.+)$", z.read(dist_info + "WHEEL").decode(), re.MULTILINE
        )
        assert set(wheel_tags) == arch.platforms
        metadata = z.read(dist_info + "METADATA").decode()
        assert "\nName: dumb-init\n" in metadata and f"\nVersion: {VERSION}\n" in metadata
        assert z.read(data) == binary(arch).read_bytes()
        assert z.getinfo(data).external_attr >> 16 & 0o777 == 0o755
        assert record_problems(z) == []


@pytest.mark.parametrize("arch", NATIVE_ARCH, ids=str)
def test_wheel_installs_and_exec_path_finds_its_binary(arch: Arch, tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip = run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", target, wheel(arch))
    assert pip.returncode == 0, pip.stderr
    code = "import dumb_init; print(dumb_init.exec_path())"
    env = {**base_env(), "PYTHONPATH": str(target)}
    found = run(sys.executable, "-c", code, env=env, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(target / "bin" / "dumb-init")
    assert (target / "bin" / "dumb-init").read_bytes() == binary(arch).read_bytes()
    assert run(target / "bin" / "dumb-init", "true").returncode == 0


def test_the_suite_tests_the_release_wheel() -> None:
    """Under ``tox -e release`` the package the other tests use is the release wheel's."""
    if os.environ.get("TOX_ENV_NAME") != "release":
        pytest.skip("not running in `tox -e release`")
    dumb_init = pytest.importorskip("dumb_init")

    (native,) = NATIVE_ARCH
    assert Path(dumb_init.exec_path()).read_bytes() == binary(native).read_bytes()


def test_sha256sums_lists_every_artifact() -> None:
    need_dist()
    sums = DIST / "SHA256SUMS"
    assert sums.is_file()
    listed = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split("  ", 1)  # sha256sum's format: digest, two spaces, name
        listed[name] = digest
    artifacts = [*DIST.glob(f"dumb-init_{VERSION}_*"), *DIST.glob(f"dumb_init-{VERSION}*")]
    assert sorted(listed) == sorted(p.name for p in artifacts)
    for name, digest in listed.items():
        assert sha256((DIST / name).read_bytes()) == digest, name


REPRODUCED = "x86_64"
"""The architecture the reproducibility check builds a second time."""


def commit_time() -> int:
    result = run("git", "log", "-1", "--format=%ct", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.timeout(1200)
def test_a_clone_elsewhere_builds_the_same_bytes(tmp_path: Path) -> None:
    """Reproducible: a clone of the same commit in another directory, built with its own cargo
    target directory, gives byte for byte the binary, the wheel and the sdist in dist/ (built
    from this checkout). Their time stamps are the commit's."""
    (arch,) = [a for a in ARCHES if a.name == REPRODUCED]
    built = [binary(arch), wheel(arch), sdist()]
    status = run("git", "status", "--porcelain", cwd=ROOT)
    if status.returncode != 0 or status.stdout:
        not_here(f"the checkout has changes, so dist/ is not a commit's build: {status.stdout}")
    with zipfile.ZipFile(built[1]) as z:
        stamps = {info.date_time for info in z.infolist()}
    epoch = commit_time()
    assert stamps == {time.gmtime(epoch - epoch % 2)[:6]}, "the wheel's time is not the commit's"

    clone = tmp_path / "elsewhere" / "dumb-init"
    result = run("git", "clone", "--quiet", "--no-hardlinks", ROOT, clone)
    assert result.returncode == 0, result.stderr
    head = run("git", "rev-parse", "HEAD", cwd=ROOT).stdout.strip()
    assert run("git", "checkout", "--quiet", "--detach", head, cwd=clone).returncode == 0
    out = tmp_path / "dist"
    argv = [sys.executable, str(clone / "release/build.py"), "--arch", REPRODUCED, "--sdist"]
    argv += ["--out", str(out), "--target-dir", str(tmp_path / "target")]
    env = {k: v for k, v in base_env().items() if k not in ("CARGO_TARGET_DIR", "RUSTFLAGS")}
    build = subprocess.run(
        argv, cwd=clone, env=env, capture_output=True, text=True, timeout=1140, check=False
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    differ = [p.name for p in built if (out / p.name).read_bytes() != p.read_bytes()]
    assert differ == [], f"{differ} differ between {ROOT} and {clone}"


def test_sdist_holds_the_source_and_the_static_link_settings() -> None:
    with tarfile.open(sdist()) as tar:
        top = f"dumb_init-{VERSION}/"
        names = {n[len(top) :] for n in tar.getnames() if n.startswith(top)}
    needed = {"Cargo.toml", "Cargo.lock", ".cargo/config.toml", "pyproject.toml", "LICENSE"}
    needed |= {"src/main.rs", "python/dumb_init/__init__.py"}
    assert needed <= names
    assert not any(n.startswith("bench/") for n in names)


@pytest.mark.long
@pytest.mark.timeout(900)
def test_sdist_builds_a_static_glibc_binary(tmp_path: Path) -> None:
    """A source install (no matching wheel, or ``--no-binary``) keeps today's build: the
    machine's glibc target, linked statically by .cargo/config.toml."""
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), sdist()],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_TARGET_DIR")},
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    built = target / "bin" / "dumb-init"
    elf = read_elf(built)
    assert PT_INTERP not in elf.segments  # static (static-pie: PT_DYNAMIC, but no library)
    assert (b"GNU", NT_GNU_ABI_TAG) in elf.notes  # glibc's crt1.o brings this note; musl's not
    result = run(built, "--version")
    assert (result.returncode, result.stderr) == (0, f"dumb-init v{VERSION}\n")
