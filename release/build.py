#!/usr/bin/env python3
"""Build dumb-init's release artifacts into dist/ (standard library only).

    python release/build.py                        # everything: binaries, wheels, sdist, SHA256SUMS
    python release/build.py --arch x86_64 --binaries-only   # just dist/dumb-init_VERSION_x86_64
    python release/build.py --measure-flags        # what each size flag buys (x86_64 by default)

For each architecture it builds one static binary for the `*-unknown-linux-musl` Rust target and
one wheel holding that binary (the comment above ARCHES says which tags and why). Then the
sdist, the bare binaries `dumb-init_VERSION_ARCH` and a `SHA256SUMS` file.

Two profiles:
- lean, the release profile: the nightly toolchain compiles Rust's standard library from its
  `rust-src` component for size (`-Z build-std`) with the knobs of KNOBS kept for it, so no
  target needs a `rust-std` download; zig (PyPI's `ziglang`, driven by `cargo-zigbuild` and
  `maturin --zig`) links every architecture and supplies the C runtime: the musl that zig
  carries, compiled for the target. One linker and one musl release for all seven, whichever
  targets rustup can download here.
- stable: where nightly, its `rust-src` or zig cannot be had; the knobs kept for it, on the
  prebuilt standard library and the musl C runtime of the target's `rust-std`, linked by Rust's
  own `rust-lld` (about ten times larger).

The time stamps in the wheels and the sdist are the commit's (SOURCE_DATE_EPOCH from
`git log -1 --format=%ct`), so that the same commit gives the same bytes in any directory.
What cannot be built is named with the command that adds it; the rest is built, and a table of
what was built, with the linker and C runtime of each, ends the run. `--require-all` (the
release workflow, `tox -e release`) fails unless every architecture was built lean, with its wheel.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from deb import DEB_ARCH, build_debs  # release/deb.py: this script's directory is sys.path[0]

REPO = Path(__file__).resolve().parent.parent
NIGHTLY = "nightly"


@dataclass(frozen=True)
class Arch:
    name: str  # as in the bare binary's file name: dumb-init_VERSION_NAME
    target: str  # the Rust target
    wheel_arch: str  # the architecture part of the wheel's platform tags
    wheel_tags: tuple[str, ...]  # maturin --compatibility: the policies the wheel is tagged with
    audit: bool = True  # maturin's auditwheel check of the binary against the tags' policies


# The lowest tags PyPI accepts for each architecture. The binary is static, so it needs no glibc
# and no musl at all: the tags only have to make pip pick the wheel on every system of the
# architecture. What PyPI accepts is Warehouse's upload check (warehouse/forklift/legacy.py),
# of which maturin keeps a copy (src/target/legacy_py.rs and pypi_tags.rs: manylinux_X_Y on
# x86_64, i686, aarch64, armv7l, ppc64le, s390x, ppc64 and riscv64; musllinux_X_Y on the same
# but ppc64 and riscv64; manylinux1/2014 by name). No released tool checks a wheel's own tags
# against it: twine check and uv publish do not look at platform tags, and maturin 1.16.0
# runs its copy only under `--compatibility pypi` alone, which tags the wheel with maturin's
# default policy instead of these (`--compatibility pypi musllinux_1_1` for riscv64 writes
# musllinux_1_1_riscv64 without a word; `--compatibility pypi` alone refuses linux_riscv64).
# So the tags below are read off that copy by hand, and tests/test_release.py holds the wheels
# to them.
# - manylinux1 (= manylinux_2_5) exists only for x86_64 and i686; pip of any age takes it.
# - aarch64, armv7l, ppc64le and s390x start at manylinux2014 (= manylinux_2_17, PEP 599);
#   pip offers no manylinux tag below 2_17 on them. armv7l means the hard-float ABI, as
#   armv7-unknown-linux-musleabihf is.
# - riscv64: PyPI takes any manylinux_2_N tag for it, and pip (packaging) offers glibc tags
#   down to 2_17 on every architecture but x86_64 and i686, so manylinux_2_17 is the lowest tag
#   both sides know. maturin's auditwheel has no manylinux_2_17 policy for riscv64 (glibc came
#   to riscv64 in 2.27) and would refuse the tag, so its audit is skipped there: the binary is
#   static and uses no glibc symbol to audit (tests/test_release.py checks that it is static).
#   PyPI refuses every musllinux tag on riscv64 (its list of musllinux
#   architectures has no riscv64), so musl systems there get the bare binary or the sdist.
# - musllinux_1_1 is the first musllinux policy (PEP 656), for the other six.
ARCHES = (
    Arch("x86_64", "x86_64-unknown-linux-musl", "x86_64", ("manylinux1", "musllinux_1_1")),
    Arch("aarch64", "aarch64-unknown-linux-musl", "aarch64", ("manylinux2014", "musllinux_1_1")),
    Arch("armv7", "armv7-unknown-linux-musleabihf", "armv7l", ("manylinux2014", "musllinux_1_1")),
    Arch("i686", "i686-unknown-linux-musl", "i686", ("manylinux1", "musllinux_1_1")),
    Arch(
        "ppc64le", "powerpc64le-unknown-linux-musl", "ppc64le", ("manylinux2014", "musllinux_1_1")
    ),
    Arch("s390x", "s390x-unknown-linux-musl", "s390x", ("manylinux2014", "musllinux_1_1")),
    Arch("riscv64", "riscv64gc-unknown-linux-musl", "riscv64", ("manylinux_2_17",), audit=False),
)
BY_NAME = {arch.name: arch for arch in ARCHES}


@dataclass(frozen=True)
class Knob:
    """One size setting: rustc flags, linker arguments and/or cargo environment variables."""

    name: str
    keep: tuple[str, ...]  # the profiles it is part of (where --measure-flags saw it save bytes)
    nightly: bool  # needs the nightly toolchain (and so the lean profile)
    rustflags: tuple[str, ...] = ()
    link_args: tuple[str, ...] = ()  # lld's own spelling; zig cc gets them as -Wl,ARG
    zig: bool = (
        True  # zig cc takes the link arguments (it refuses the lld options it does not know)
    )
    env: dict[str, str] = field(default_factory=dict)
    why: str = ""


# Cargo.toml's release profile already has opt-level "s", fat LTO, one codegen unit, panic=abort
# and strip. `python release/build.py --measure-flags` rebuilds with each knob toggled and prints
# what it buys; keep only knobs that buy something. Never raise -C target-cpu: the binary must
# run on every CPU of its architecture.
KNOBS = (
    Knob(
        "-Zbuild-std-features=optimize_for_size",
        keep=("lean",),
        nightly=True,
        env={"CARGO_UNSTABLE_BUILD_STD_FEATURES": "optimize_for_size"},
        why="std's own size-over-speed code paths",
    ),
    Knob(
        "-Cpanic=immediate-abort",
        keep=("lean",),
        nightly=True,
        rustflags=("-Zunstable-options", "-Cpanic=immediate-abort"),
        why="a panic is a bare abort: no panic message or formatting machinery",
    ),
    Knob(
        "-Zlocation-detail=none",
        keep=(),
        nightly=True,
        rustflags=("-Zlocation-detail=none",),
        why="no file/line strings for panics (none left with immediate-abort)",
    ),
    Knob(
        "-Zfmt-debug=none",
        keep=(),
        nightly=True,
        rustflags=("-Zfmt-debug=none",),
        why="{:?} formats nothing (the code formats nothing with it)",
    ),
    Knob(
        "-Crelocation-model=static",
        keep=("lean", "stable"),
        nightly=False,
        rustflags=("-Crelocation-model=static",),
        why="static, not static-pie: no dynamic section or self-relocation at start",
    ),
    Knob(
        "-Cforce-unwind-tables=no",
        keep=("lean",),
        nightly=False,
        rustflags=("-Cforce-unwind-tables=no",),
        why="no .eh_frame for code that never unwinds",
    ),
    Knob(
        "lld --icf=all",
        keep=("stable",),
        nightly=False,
        link_args=("--icf=all",),
        zig=False,
        why="identical functions folded into one (zig cc refuses the option: rust-lld only)",
    ),
    Knob(
        "lld -z norelro",
        keep=("lean", "stable"),
        nightly=False,
        link_args=("-znorelro",),
        why="no page-aligned RELRO segment (nothing applies RELRO in a static musl binary)",
    ),
    Knob(
        "opt-level=z",
        keep=("lean",),
        nightly=False,
        env={"CARGO_PROFILE_RELEASE_OPT_LEVEL": "z"},
        why="instead of Cargo.toml's s",
    ),
    Knob(
        "lld --build-id=none",
        keep=(),
        nightly=False,
        link_args=("--build-id=none",),
        why="no .note.gnu.build-id",
    ),
    Knob(
        "machine outliner",
        keep=(),
        nightly=False,
        rustflags=("-Cllvm-args=-enable-machine-outliner=always",),
        why="repeated code made into functions: under 1% for a hidden LLVM option",
    ),
)


def log(*words: object) -> None:
    print("[release]", *words, flush=True)


def cargo_version() -> str:
    match = re.search(r'^version = "(.+)"$', (REPO / "Cargo.toml").read_text(), re.MULTILINE)
    if not match:
        sys.exit("release/build.py: no version in Cargo.toml")
    return match.group(1)


def base_env() -> dict[str, str]:
    """The environment for every build, without flags that would replace ours (cargo takes
    RUSTFLAGS and CARGO_ENCODED_RUSTFLAGS over any other source), with the commit's time."""
    env = dict(os.environ)
    for name in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"):
        if env.pop(name, None) is not None:
            log(f"ignoring {name} from the environment")
    epoch = source_date_epoch()
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    return env


def source_date_epoch() -> str | None:
    """The commit's time, which maturin writes into the wheels' and the sdist's time stamps:
    the same commit then gives the same bytes wherever and whenever it is built. Outside a
    git checkout (an unpacked sdist), $SOURCE_DATE_EPOCH if set."""
    try:
        result = subprocess.run(
            ["git", "log", "-1", "--format=%ct"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip().isdigit():
        return result.stdout.strip()
    given = os.environ.get("SOURCE_DATE_EPOCH")
    log(f"not a git checkout: SOURCE_DATE_EPOCH {'from the environment' if given else 'unset'}")
    return given


def rustc_query(toolchain: str | None, *args: str) -> str | None:
    """``rustc ARGS`` of a rustup toolchain (None: the default one); None if it does not run."""
    env = dict(os.environ)
    if toolchain is not None:
        env["RUSTUP_TOOLCHAIN"] = toolchain
    else:
        env.pop("RUSTUP_TOOLCHAIN", None)
    try:
        result = subprocess.run(
            ["rustc", *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def c_runtime(sysroot: Path, target: str) -> Path:
    """Where a toolchain keeps the musl C runtime it links (crt objects, libc.a) for a target."""
    return sysroot / "lib" / "rustlib" / target / "lib" / "self-contained"


def musl_release(libc: Path) -> str | None:
    """The musl release a toolchain's libc.a was built from (musl keeps it as one string, for
    its dynamic loader's banner); None without one."""
    try:
        found = set(re.findall(rb"\x00(\d+\.\d+\.\d+)\x00", libc.read_bytes()))
    except OSError:
        return None
    return found.pop().decode() if len(found) == 1 else None


@dataclass(frozen=True)
class Zig:
    """The zig that links the lean builds, and the musl release it carries."""

    exe: str
    version: str
    musl: str  # from musl's own src/internal/version.h in zig's lib directory

    @classmethod
    def find(cls) -> tuple[Zig | None, str | None]:
        """PyPI's ziglang in this Python, else `zig` on PATH; and cargo-zigbuild. Returns the
        zig, or None and what is missing with the command that adds it."""
        install = "`python -m pip install ziglang cargo-zigbuild`"
        if shutil.which("cargo-zigbuild") is None:
            return None, f"no cargo-zigbuild: {install}"
        for argv in ([sys.executable, "-m", "ziglang"], [shutil.which("zig") or "zig"]):
            try:
                env_out = subprocess.run(
                    [*argv, "env"], capture_output=True, text=True, timeout=60, check=False
                ).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            # `zig env` prints ZON (0.15 and later) or JSON (before): .key = "v" or "key": "v".
            found = dict(re.findall(r'^\s*"?\.?(\w+)"?\s*[=:]\s*"([^"]*)"', env_out, re.MULTILINE))
            if not {"zig_exe", "lib_dir", "version"} <= found.keys():
                continue
            header = Path(found["lib_dir"]) / "libc/musl/src/internal/version.h"
            musl = (
                re.search(r'#define VERSION "(.+)"', header.read_text())
                if header.is_file()
                else None
            )
            if musl is None:
                return None, f"zig {found['version']} carries no musl ({header} missing)"
            return cls(found["zig_exe"], found["version"], musl.group(1)), None
        return None, f"no zig: {install}"


@dataclass
class Plan:
    """How one architecture gets built, or why it cannot be."""

    arch: Arch
    profile: str | None = None  # "lean" or "stable"; None: cannot be built
    linker: str = ""  # what links the binary, for the build table
    c_runtime: str = ""  # where its C runtime comes from, for the build table
    zig: bool = False  # linked by zig: cargo zigbuild / maturin --zig
    rustflags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what is missing and the command that adds it


@dataclass
class Toolchains:
    """What the machine has, looked up once."""

    nightly_sysroot: Path | None
    nightly_missing: str | None  # why there is no lean profile at all, with the fix
    default_sysroot: Path | None
    zig: Zig | None

    @classmethod
    def probe(cls) -> Toolchains:
        default = rustc_query(None, "--print", "sysroot")
        version = rustc_query(NIGHTLY, "--version")
        sysroot = rustc_query(NIGHTLY, "--print", "sysroot")
        zig, zig_missing = Zig.find()
        missing = None
        if version is None or sysroot is None or "nightly" not in version:
            missing = f"no {NIGHTLY} toolchain: `rustup toolchain install {NIGHTLY}`"
        elif not (Path(sysroot) / "lib/rustlib/src/rust/library/Cargo.lock").is_file():
            missing = (
                f"{NIGHTLY} has no rust-src: `rustup component add rust-src --toolchain {NIGHTLY}`"
            )
        elif zig_missing is not None:
            missing = zig_missing
        return cls(
            Path(sysroot) if sysroot else None,
            missing,
            Path(default) if default else None,
            zig,
        )


def knobs_for(profile: str) -> list[Knob]:
    return [k for k in KNOBS if profile in k.keep]


def plan(arch: Arch, tools: Toolchains, want: str, knobs: list[Knob] | None = None) -> Plan:
    """The lean build where nightly and zig can make it (unless ``want`` is "stable"), else the
    stable one; ``knobs`` replaces the profile's knobs (for --measure-flags)."""
    result = Plan(arch)
    if want != "stable":
        if tools.nightly_missing is not None:
            result.notes.append(f"lean: {tools.nightly_missing}")
        else:
            assert tools.zig is not None and tools.nightly_sysroot is not None
            result.profile = "lean"
            rusts = musl_release(c_runtime(tools.nightly_sysroot, arch.target) / "libc.a")
            if rusts == tools.zig.musl:
                # Nightly has the target's C runtime, of zig's musl release: Rust's own lld links
                # it, and folds identical functions (zig cc refuses --icf=all), which makes the
                # x86_64 binary 3.4 KB smaller and one page less resident.
                result.linker = "rust-lld"
                result.c_runtime = f"musl {rusts} (Rust's)"
            else:
                result.zig = True
                result.linker = f"zig {tools.zig.version} cc (lld)"
                result.c_runtime = f"musl {tools.zig.musl} (zig's)"
    if result.profile is None:
        if tools.default_sysroot is None:
            result.notes.append("no Rust toolchain: install rustup, then `rustup default stable`")
            return result
        own = c_runtime(tools.default_sysroot, arch.target)
        if not (own / "libc.a").is_file():
            result.notes.append(f"stable: target not installed: `rustup target add {arch.target}`")
            return result
        result.profile = "stable"
        result.linker = "rust-lld"
        result.c_runtime = "musl of the target's rust-std"
        if want != "stable":
            result.notes.append("so the stable profile instead: several times larger")
    chosen = knobs_for(result.profile) if knobs is None else knobs
    if result.zig:
        dropped = [k.name for k in chosen if k.link_args and not k.zig]
        chosen = [k for k in chosen if k.zig or not k.link_args]
        if dropped and knobs is not None:
            result.notes.append(f"zig cc refuses {', '.join(dropped)}: left out")
    rustflags = [flag for knob in chosen for flag in knob.rustflags]
    for knob in chosen:
        for arg in knob.link_args:
            rustflags.append(f"-Clink-arg=-Wl,{arg}" if result.zig else f"-Clink-arg={arg}")
    result.rustflags = rustflags
    result.env = {
        # One --target per build, so these reach only the target's code, not build scripts.
        "CARGO_ENCODED_RUSTFLAGS": "\x1f".join(result.rustflags),
    }
    triple = arch.target.upper().replace("-", "_")
    if result.zig:
        assert tools.zig is not None
        # zig brings the crt objects and libc.a, compiled from its musl for the target; rustc
        # must not add its own (nightly has none for most targets here anyway).
        result.rustflags.append("-Clink-self-contained=no")
        result.env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(result.rustflags)
        result.env["CARGO_ZIGBUILD_ZIG_PATH"] = tools.zig.exe
    else:
        # Rust's own lld links the target: no cross C compiler needed.
        result.env[f"CARGO_TARGET_{triple}_LINKER"] = "rust-lld"
    for knob in chosen:
        result.env.update(knob.env)
    if result.profile == "lean":
        result.env["RUSTUP_TOOLCHAIN"] = NIGHTLY
        result.env["CARGO_UNSTABLE_BUILD_STD"] = "std,panic_abort"
    return result


BASE_ENV: dict[str, str] = {}


def run(argv: list[str], env: dict[str, str], *, quiet: bool = False, fatal: bool = True) -> bool:
    """Run a build command with ``env`` added; if it fails, shows its output and exits
    (``fatal``) or returns False."""
    if not BASE_ENV:
        BASE_ENV.update(base_env())
    shown = [f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()) if BASE_ENV.get(k) != v]
    if not quiet:
        log("$", " ".join([*shown, shlex.join(argv)]).replace("\x1f", " "))
    result = subprocess.run(
        argv, cwd=REPO, env={**BASE_ENV, **env}, capture_output=quiet, text=True, check=False
    )
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        message = f"{argv[0]} failed with status {result.returncode}"
        if fatal:
            sys.exit(f"release/build.py: {message}")
        log(message)
    return result.returncode == 0


def target_dir(profile: str, root: Path) -> Path:
    return root / f"release-{profile}"


def cargo_build(p: Plan, root: Path, *, measuring: bool = False) -> Path | None:
    """Build the binary with cargo; returns its path (None: a --measure-flags build failed)."""
    assert p.profile is not None
    tdir = target_dir(p.profile, root)
    argv = ["cargo", "zigbuild" if p.zig else "build", "--release", "--locked"]
    argv += ["--target", p.arch.target]
    ok = run(argv + ["--target-dir", str(tdir)], p.env, quiet=measuring, fatal=not measuring)
    return tdir / p.arch.target / "release" / "dumb-init" if ok else None


def maturin_build(p: Plan, root: Path, out: Path, version: str) -> Path:
    """Build the wheel with maturin (which runs cargo with the same settings); returns it."""
    assert p.profile is not None
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        argv = ["maturin", "build", "--release", "--target", p.arch.target, "--out", tmp]
        argv += ["--compatibility", *p.arch.wheel_tags]
        argv += ["--zig"] if p.zig else []
        argv += [] if p.arch.audit else ["--auditwheel", "skip"]
        run(argv, {**p.env, "CARGO_TARGET_DIR": str(target_dir(p.profile, root))})
        wheels = list(Path(tmp).glob(f"dumb_init-{version}-*.whl"))
        if len(wheels) != 1:
            sys.exit(f"release/build.py: maturin left {wheels} instead of one wheel")
        return Path(shutil.move(str(wheels[0]), out / wheels[0].name))


def binary_in_wheel(wheel: Path, version: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        return z.read(f"dumb_init-{version}.data/scripts/dumb-init")


def artifacts(out: Path, version: str) -> list[Path]:
    found = list(out.glob(f"dumb-init_{version}_*")) + list(out.glob(f"dumb_init-{version}*"))
    return sorted(p for p in found if p.is_file())


def remove_old(out: Path, arches: list[Arch], everything: bool) -> None:
    """Remove what this run replaces, so that no stale file is shipped or summed: every
    artifact, of any version, or those of ``arches``."""
    doomed: list[Path] = []
    if everything:
        doomed += [*out.glob("dumb-init_*"), *out.glob("dumb_init-*")]
    for arch in arches:
        doomed += list(out.glob(f"dumb-init_*_{arch.name}"))
        doomed += list(out.glob(f"dumb_init-*_{arch.wheel_arch}.whl"))
        doomed += list(out.glob(f"dumb-init_*_{DEB_ARCH[arch.name]}.deb"))
    for path in doomed:
        if path.is_file():
            path.unlink()


def put(path: Path, data: bytes, mode: int = 0o755) -> None:
    """Write a file whole or not at all: whoever reads dist/ meanwhile sees the old or the new."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.chmod(partial, mode)
    os.replace(partial, path)


def write_sums(out: Path, version: str) -> None:
    """SHA256SUMS in sha256sum's format, for every artifact of this version in ``out``."""
    lines = []
    for path in artifacts(out, version):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    put(out / "SHA256SUMS", "".join(lines).encode(), 0o644)


def tool_versions(tools: Toolchains, need_maturin: bool) -> list[str]:
    versions = [rustc_query(NIGHTLY, "--version") or "no nightly"]
    versions.append(rustc_query(None, "--version") or "no default toolchain")
    versions.append(f"zig {tools.zig.version}" if tools.zig else "no zig")
    commands = [["cargo-zigbuild", "--version"]] + (
        [] if need_maturin else [["maturin", "--version"]]
    )
    for argv in commands:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            versions.append(out.stdout.strip() or argv[0])
        except (OSError, subprocess.TimeoutExpired):
            versions.append(f"no {argv[0]}")
    epoch = BASE_ENV.get("SOURCE_DATE_EPOCH")
    versions.append(f"SOURCE_DATE_EPOCH={epoch}" if epoch else "SOURCE_DATE_EPOCH unset")
    return versions


@dataclass
class Built:
    plan: Plan
    binary: Path
    wheel: Path | None


def build(args: argparse.Namespace, arches: list[Arch], version: str) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tools = Toolchains.probe()
    plans = [plan(arch, tools, args.profile) for arch in arches]
    for p in plans:
        for note in p.notes:
            log(f"{p.arch.name}: {note}")
    need_maturin = not args.binaries_only and shutil.which("maturin") is None
    if need_maturin:
        log("no maturin, so no wheels and no sdist: `python -m pip install 'maturin>=1.9,<2'`")
    everything = not args.arch and not args.binaries_only
    # --binaries-only replaces the binaries in place and leaves the wheels alone: built from
    # the same source they hold the same bytes (tests/test_release.py checks that they do).
    remove_old(out, [] if args.binaries_only else arches, everything)

    built: list[Built] = []
    for p in plans:
        if p.profile is None:
            continue
        name = f"dumb-init_{version}_{p.arch.name}"
        log(f"{p.arch.name}: {p.profile} build of {name}")
        wheel = None
        if args.binaries_only or need_maturin:
            binary = cargo_build(p, args.target_dir)
            assert binary is not None
            put(out / name, binary.read_bytes())
        else:
            # The bare binary is the wheel's, byte for byte.
            wheel = maturin_build(p, args.target_dir, out, version)
            put(out / name, binary_in_wheel(wheel, version))
        built.append(Built(p, out / name, wheel))
    if (everything or args.sdist) and not need_maturin:
        run(["maturin", "sdist", "--out", str(out)], {})
    # A Debian package of each bare binary, byte for byte the same binary (not with
    # --binaries-only, which release/deb.py itself uses to make a missing binary).
    debs: list[Path] = []
    need_dpkg = not args.binaries_only and shutil.which("dpkg-deb") is None
    if need_dpkg:
        log("no dpkg-deb, so no Debian packages: `apt-get install dpkg`")
    elif not args.binaries_only:
        debs = build_debs(out, version, [b.plan.arch.name for b in built])
    write_sums(out, version)

    print()
    print(f"{'arch':8} {'profile':8} {'linker':22} {'C runtime':26} {'bytes':>9}  artifact")
    for b in built:
        size = b.binary.stat().st_size
        p = b.plan
        print(
            f"{p.arch.name:8} {p.profile:8} {p.linker:22} {p.c_runtime:26} {size:>9,}  {b.binary.name}"
        )
        if b.wheel is not None:
            print(f"{'':8} {'':8} {'':22} {'':26} {b.wheel.stat().st_size:>9,}  {b.wheel.name}")
    for p in plans:
        if p.profile is None:
            print(f"{p.arch.name:8} {'MISSING':8} " + "; ".join(p.notes))
    for deb in debs:
        print(f"{'deb':8} {'':8} {'':22} {'':26} {deb.stat().st_size:>9,}  {deb.name}")
    for sdist in out.glob(f"dumb_init-{version}.tar.gz"):
        print(f"{'sdist':8} {'':8} {'':22} {'':26} {sdist.stat().st_size:>9,}  {sdist.name}")
    print(f"written to {out}; checksums in {out / 'SHA256SUMS'}")
    # A rebuild gives the same bytes with the same versions of these (README: "Checking a
    # release").
    print("built with:", "; ".join(tool_versions(tools, need_maturin)))

    if not built:
        log("nothing was built")
        return 1
    short = [p.arch.name for p in plans if p.profile != "lean"]
    if args.require_all and (short or need_maturin or need_dpkg):
        log(
            f"--require-all: not built lean: {', '.join(short) or '-'}; maturin: {not need_maturin};"
            f" dpkg-deb: {not need_dpkg}"
        )
        return 1
    return 0


def measure(args: argparse.Namespace, arches: list[Arch]) -> int:
    """Build once per knob toggled against the release profile and print what each buys."""
    tools = Toolchains.probe()
    root: Path = args.target_dir / "measure"
    for arch in arches:
        release = plan(arch, tools, args.profile)
        if release.profile is None:
            log(f"{arch.name}: cannot be built: {'; '.join(release.notes)}")
            continue
        for note in release.notes:
            log(f"{arch.name}: {note}")
        profile = release.profile
        candidates = [k for k in KNOBS if profile == "lean" or not k.nightly]
        kept = knobs_for(profile)

        def size(knobs: list[Knob], base: str = profile, arch: Arch = arch) -> int | None:
            p = plan(arch, tools, base, knobs)
            if p.profile is None:
                return None
            binary = cargo_build(p, root, measuring=True)
            return None if binary is None else binary.stat().st_size

        started = time.monotonic()
        log(f"{arch.name}: {len(candidates) + 3} {profile} builds to measure, a minute or so each")
        reference = size([], "stable")
        bare = size([]) if profile == "lean" else reference
        full = size(kept)
        rows = []
        for knob in candidates:
            kept_here = profile in knob.keep
            toggled = [k for k in kept if k is not knob] if kept_here else [*kept, knob]
            other = size(toggled)
            buys = None if other is None or full is None else abs(other - full)
            if buys is not None and (other < full) == kept_here:  # type: ignore[operator]
                buys = -buys  # the knob makes the binary larger
            rows.append((knob, other, buys))
            log(f"  {knob.name}: {'failed' if buys is None else f'{buys:+,} bytes'}")

        def show(n: int | None, signed: bool = False) -> str:
            return "n/a" if n is None else f"{n:+,}" if signed else f"{n:,}"

        print()
        print(f"{arch.name} ({profile}): bytes on disk; 'buys' = bytes the knob saves")
        print(f"  {'stable toolchain, Cargo.toml profile, no knob':46} {show(reference):>9}")
        if profile == "lean":
            print(f"  {'nightly -Zbuild-std=std,panic_abort, no knob':46} {show(bare):>9}")
        print(f"  {'release profile: every kept knob':46} {show(full):>9}")
        print(f"  {'knob':40} {'kept':5} {'toggled':>9} {'buys':>8}  what it does")
        for knob, other, buys in rows:
            keep = "yes" if profile in knob.keep else "no"
            print(f"  {knob.name:40} {keep:5} {show(other):>9} {show(buys, True):>8}  {knob.why}")
        print(f"  ({time.monotonic() - started:.0f} s)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--arch",
        action="append",
        choices=[a.name for a in ARCHES],
        help="build only this architecture (repeatable); default: all",
    )
    parser.add_argument(
        "--binaries-only", action="store_true", help="only the bare binaries: no wheels, no sdist"
    )
    parser.add_argument(
        "--sdist", action="store_true", help="the sdist too when building only some --arch"
    )
    parser.add_argument(
        "--measure-flags",
        action="store_true",
        help="print what each size knob buys (default architecture: x86_64); builds nothing in dist/",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "stable"),
        default="auto",
        help="auto: lean where nightly can build it, else stable (default); stable: stable only",
    )
    parser.add_argument(
        "--require-all",
        action="store_true",
        help="fail unless every architecture was built lean, with its wheel (release workflow)",
    )
    parser.add_argument(
        "--nightly",
        default="nightly",
        help="the nightly toolchain of the lean profile (default: nightly); a dated one, such as"
        " nightly-2026-05-20, rebuilds a release byte for byte",
    )
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="default: dist/")
    parser.add_argument(
        "--target-dir",
        type=Path,
        default=Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target"),
        help="cargo's; default: $CARGO_TARGET_DIR, else target/",
    )
    args = parser.parse_args(argv)
    global NIGHTLY  # one toolchain for the whole run
    NIGHTLY = args.nightly
    args.out = args.out.resolve()
    args.target_dir = args.target_dir.resolve()
    version = cargo_version()
    if args.measure_flags:
        return measure(args, [BY_NAME[n] for n in args.arch or ["x86_64"]])
    return build(args, [BY_NAME[n] for n in args.arch] if args.arch else list(ARCHES), version)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
