"""Starting the command: found and run as glibc's execvp finds and runs it, whatever C library
dumb-init is linked with, and each failure reported as ``[dumb-init] CMD: TEXT`` with exit 2.

Each case is also run by coreutils' ``env``, which starts its command with glibc's ``execvp``
(in the C locale, so its messages are untranslated, and with ``-u LC_ALL`` so the command's
environment is the same), and must end the same way there: the same output when the command
runs, the same error text when it cannot. So the expected behaviour and texts are glibc's own,
not guesses. The basic failures covered by test_exit.py (a missing absolute path, a name on no
``PATH`` entry, a plain file without execute permission, going on past it) are not repeated.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pytest

from testing import base_env
from testing.supervise import MODES, Arg, Init, Mode, mode_id, run

ENV = shutil.which("env", path="/usr/bin:/bin")


def _is_glibc_env() -> bool:
    """Whether ``env`` is coreutils' on a glibc system (Debian, the CI image)."""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = None
    if ENV is None or not glibc:
        return False
    version = subprocess.run([ENV, "--version"], capture_output=True, check=False).stdout
    return b"GNU coreutils" in version


GNU_ENV = _is_glibc_env()
"""Whether glibc's execvp can be watched through ``env``; without it only the expected outcome
is checked."""


ENV_ARGV = ["env", "-u", "LC_ALL", "--"]
"""``env``, its messages untranslated (see ``c_locale``), running a command with the caller's
environment."""


def as_env(env: Mapping[str, str]) -> dict[Arg, Arg]:
    """``env`` typed as ``run`` takes it."""
    return {name: value for name, value in env.items()}


def c_locale(env: Mapping[str, str]) -> dict[Arg, Arg]:
    return as_env({**env, "LC_ALL": "C"})


@dataclass(frozen=True)
class Outcome:
    """How running a command ended: the error text when it could not be started, else what it
    printed (its exit status must be 0)."""

    error: str | None = None
    output: bytes = b""


def ran(output: str) -> Outcome:
    return Outcome(output=output.encode())


def failed(text: str) -> Outcome:
    return Outcome(error=text)


def parse(result: subprocess.CompletedProcess[bytes], prefix: bytes, status: int) -> Outcome:
    """The outcome of one run: an error line ``PREFIX TEXT`` with exit ``status`` and nothing on
    stdout, or a run that exited 0 with nothing on stderr."""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith(prefix)]
    if not errors:
        assert (result.returncode, result.stderr) == (0, b""), result
        return Outcome(output=result.stdout)
    assert errors == lines, f"more than the error line on stderr: {result.stderr!r}"
    assert (result.returncode, result.stdout) == (status, b""), result
    return Outcome(error=errors[0][len(prefix) :].decode())


def by_dumb_init(
    dumb_init_bin: str,
    argv: Sequence[Arg],
    env: Mapping[str, str],
    cwd: Path | None,
    mode: Mode = MODES[0],
) -> Outcome:
    command = os.fsencode(argv[0])
    full_env = as_env({**env, **mode.env})
    result = run(
        [dumb_init_bin, *mode.args, *argv], env=full_env, cwd=None if cwd is None else str(cwd)
    )
    prefix = b"[dumb-init] " + command + b": "
    if mode.debug:
        # The debug lines are test_process.py's business: keep only the error line, if any.
        lines = result.stderr.splitlines(keepends=True)
        debug = [line for line in lines if line.startswith(b"[dumb-init] ")]
        result.stderr = b"".join(
            line for line in lines if line not in debug or line.startswith(prefix)
        )
    return parse(result, prefix, 2)


def by_glibc(argv: Sequence[Arg], env: Mapping[str, str], cwd: Path | None) -> Outcome:
    assert ENV is not None
    result = run(
        [*ENV_ARGV, *argv], env=c_locale(env), cwd=None if cwd is None else str(cwd), executable=ENV
    )
    # env exits 127 when the command was not found, 126 when it could not be run.
    status = 127 if result.returncode == 127 else 126
    return parse(result, b"env: '" + os.fsencode(argv[0]) + b"': ", status)


def expect(
    dumb_init_bin: str,
    argv: Sequence[Arg],
    outcome: Outcome,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Runs ``argv`` under dumb-init and with glibc's execvp; both must end as ``outcome``."""
    env = base_env() if env is None else env
    assert by_dumb_init(dumb_init_bin, argv, env, cwd) == outcome
    if GNU_ENV:
        assert by_glibc(argv, env, cwd) == outcome, "glibc's execvp does otherwise"


def env_with_path(path: str | None) -> dict[str, str]:
    """The test environment with ``PATH`` set to ``path``, or unset for None."""
    env = base_env()
    env.pop("PATH", None)
    if path is not None:
        env["PATH"] = path
    return env


def tool(directory: Path, name: str = "tool", *, mode: int = 0o755) -> Path:
    """An executable script that prints ``DIRECTORY-NAME $0 ARGS``."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "{directory.name} $0 $*"\n')
    script.chmod(mode)
    return script


NOT_FOUND = failed("No such file or directory")
DENIED = failed("Permission denied")


def test_missing_or_unreachable_relative_paths(dumb_init_bin: str, tmp_path: Path) -> None:
    """A name with a slash is run as it is, relative to the working directory: no search."""
    (tmp_path / "file").write_text("")
    tool(tmp_path / "bin")  # a 'tool' on PATH must not be found for './tool'
    env = env_with_path(str(tmp_path / "bin"))
    for command in ("./missing", "./tool", "sub/missing", "missing-dir/tool"):
        expect(dumb_init_bin, [command], NOT_FOUND, env=env, cwd=tmp_path)
    expect(dumb_init_bin, ["file/x"], failed("Not a directory"), cwd=tmp_path)
    expect(dumb_init_bin, ["bin/tool", "a"], ran("bin bin/tool a\n"), cwd=tmp_path)


def test_unusable_path_entries_are_passed_over(dumb_init_bin: str, tmp_path: Path) -> None:
    """Entries that do not exist, are files, or are empty directories are skipped; the error
    reported is the last entry's."""
    (tmp_path / "file").write_text("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    tool(tmp_path / "bin")
    skipped = [tmp_path / "missing", tmp_path / "file", tmp_path / "empty", tmp_path / "dangling"]
    path = ":".join(map(str, skipped))
    expect(dumb_init_bin, ["tool"], NOT_FOUND, env=env_with_path(path))
    expect(
        dumb_init_bin,
        ["tool"],
        ran(f"bin {tmp_path}/bin/tool \n"),
        env=env_with_path(f"{path}:{tmp_path / 'bin'}"),
    )
    # Last a file: its ENOTDIR is what is left to report.
    last_a_file = f"{tmp_path / 'empty'}:{tmp_path / 'file'}"
    expect(dumb_init_bin, ["tool"], failed("Not a directory"), env=env_with_path(last_a_file))


def test_path_unset_means_bin_and_usr_bin(dumb_init_bin: str, tmp_path: Path) -> None:
    env = env_with_path(None)
    expect(dumb_init_bin, ["sh", "-c", 'echo "$0 ran"'], ran("sh ran\n"), env=env)
    expect(dumb_init_bin, ["ls", "-d", "/"], ran("/\n"), env=env)
    # Not the working directory, nor anywhere else.
    tool(tmp_path)
    expect(dumb_init_bin, ["tool"], NOT_FOUND, env=env, cwd=tmp_path)


@pytest.mark.parametrize(
    "path",
    ["", ":{other}", "{other}:", "{other}::{other}", "{other}:{other}:"],
    ids=["empty", "leading", "trailing", "double", "trailing-after-two"],
)
def test_empty_path_entry_is_the_working_directory(
    dumb_init_bin: str, tmp_path: Path, path: str
) -> None:
    """An empty entry, anywhere in PATH, means the working directory; the name is tried as it is
    (so ``$0`` is ``tool``, not ``./tool``)."""
    here = tmp_path / "here"
    tool(here)
    (tmp_path / "other").mkdir()
    env = env_with_path(path.format(other=tmp_path / "other"))
    expect(dumb_init_bin, ["tool", "x"], ran("here tool x\n"), env=env, cwd=here)


def test_empty_path_entry_keeps_its_place(dumb_init_bin: str, tmp_path: Path) -> None:
    first, here, last = tmp_path / "first", tmp_path / "here", tmp_path / "last"
    tool(here)
    tool(last)
    env = env_with_path(f"{first}::{last}")
    expect(dumb_init_bin, ["tool"], ran("here tool \n"), env=env, cwd=here)
    tool(first)
    expect(dumb_init_bin, ["tool"], ran(f"first {first}/tool \n"), env=env, cwd=here)


def test_directory_found_on_path(dumb_init_bin: str, tmp_path: Path) -> None:
    """A directory of the command's name is refused (EACCES): the search goes on, and reports
    "Permission denied" if nothing else runs."""
    (tmp_path / "a" / "tool").mkdir(parents=True)
    b = tmp_path / "b"
    b.mkdir()
    env = env_with_path(f"{tmp_path / 'a'}:{b}")
    expect(dumb_init_bin, ["tool"], DENIED, env=env)
    tool(b)
    expect(dumb_init_bin, ["tool"], ran(f"b {b}/tool \n"), env=env)


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o000])
def test_no_execute_bit_is_refused_even_to_root(
    dumb_init_bin: str, tmp_path: Path, mode: int
) -> None:
    if os.geteuid() != 0:
        pytest.skip("about root's permissions")
    script = tool(tmp_path, mode=mode)
    expect(dumb_init_bin, [str(script)], DENIED)


@pytest.mark.parametrize("mode", [0o100, 0o010, 0o001, 0o111])
def test_any_execute_bit_is_enough_for_root(dumb_init_bin: str, tmp_path: Path, mode: int) -> None:
    """Root may run a file that anyone may execute; the script must also be readable by its
    interpreter, which root always may."""
    if os.geteuid() != 0:
        pytest.skip("about root's permissions")
    script = tool(tmp_path, mode=mode)
    expect(dumb_init_bin, [str(script), "y"], ran(f"{tmp_path.name} {script} y\n"))


def test_permission_denied_is_remembered_across_the_search(
    dumb_init_bin: str, tmp_path: Path
) -> None:
    """One refused candidate, then only missing ones: the error is "Permission denied", not the
    last entry's "No such file or directory"."""
    tool(tmp_path / "a", mode=0o644)
    path = f"{tmp_path / 'missing'}:{tmp_path / 'a'}:{tmp_path / 'b'}:{tmp_path / 'c'}"
    (tmp_path / "b").mkdir()
    expect(dumb_init_bin, ["tool"], DENIED, env=env_with_path(path))


def write_script(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_script_without_shebang_runs_under_bin_sh(dumb_init_bin: str, tmp_path: Path) -> None:
    """The kernel refuses it (ENOEXEC): it runs as ``/bin/sh FILE ARGS...``, so ``$0`` is the
    path it was found at and the arguments follow."""
    body = 'echo "$0|$#|$*"\n'
    script = write_script(tmp_path / "plain", body)
    expect(dumb_init_bin, [str(script), "a", "b c"], ran(f"{script}|2|a b c\n"))
    expect(dumb_init_bin, [str(script)], ran(f"{script}|0|\n"))
    expect(dumb_init_bin, ["./plain", ""], ran("./plain|1|\n"), cwd=tmp_path)
    env = env_with_path(f"{tmp_path / 'missing'}:{tmp_path}")
    expect(dumb_init_bin, ["plain", "-v"], ran(f"{script}|1|-v\n"), env=env)
    env = env_with_path(f"{tmp_path / 'missing'}:")
    expect(dumb_init_bin, ["plain"], ran("plain|0|\n"), env=env, cwd=tmp_path)
    # An empty file is a script that does nothing.
    empty = write_script(tmp_path / "empty", "")
    expect(dumb_init_bin, [str(empty), "x"], ran(""))


def argv_pointers(pid: int, pointer_size: int) -> tuple[list[int], list[int]]:
    """The argv array in the memory of process PID as it is now, and where each string of its
    command line begins: the kernel put argc at the stack's start, then the pointers."""
    # Field N of /proc/PID/stat (counted from 1) is words[N - 3] after the command's name.
    words = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    start_stack, arg_start = int(words[28 - 3]), int(words[48 - 3])
    strings = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    starts, offset = [], arg_start
    for string in strings:
        starts.append(offset)
        offset += len(string) + 1
    word = "Q" if pointer_size == 8 else "I"
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(start_stack)
        raw = mem.read(pointer_size * (len(strings) + 2))
    argc, *pointers = struct.unpack(f"={len(strings) + 2}{word}", raw)
    assert argc == len(strings)
    return pointers, [*starts, 0]


@pytest.mark.parametrize("options", [[], ["-c"]], ids=["setsid", "single-child"])
def test_spawn_leaves_dumb_inits_argv_as_it_was(
    dumb_init_bin: str, tmp_path: Path, options: list[str]
) -> None:
    """The child runs in dumb-init's memory until it execs (clone with CLONE_VM). For a script
    without ``#!`` it lays out ``/bin/sh FILE ARGS`` in two slots of dumb-init's argv, as glibc's
    execvp does in its own copy. Once the child has exec'd, each of dumb-init's argv pointers
    points at its own string again (a pointer left to the child's stack would dangle)."""
    with open(dumb_init_bin, "rb") as f:
        pointer_size = {1: 4, 2: 8}[f.read(5)[4]]  # the ELF class
    script = write_script(tmp_path / "plain", "echo ready\nexec sleep 1000\n")
    with Init([dumb_init_bin, "-v", *options, str(script), "a"], env=base_env()) as init:
        init.out.expect("ready")
        # dumb-init runs on once the child's exec has let go of its memory: wait until it has.
        init.err.until(lambda line: line.startswith("[dumb-init] Child spawned with PID "))
        pointers, expected = argv_pointers(init.pid, pointer_size)
        assert pointers == expected


def test_interpreter_problems(dumb_init_bin: str, tmp_path: Path) -> None:
    """A missing interpreter reads as a missing file (ENOENT, so a PATH search goes on); one that
    may not be executed as "Permission denied"."""
    (tmp_path / "dir").mkdir()
    write_script(tmp_path / "not-executable", "#!/bin/sh\n", mode=0o644)
    cases = {
        "missing": ("#!/nonexistent/interpreter\necho ran\n", NOT_FOUND),
        "directory": (f"#!{tmp_path / 'dir'}\necho ran\n", DENIED),
        "not-executable": (f"#!{tmp_path / 'not-executable'}\necho ran\n", DENIED),
    }
    bad = tmp_path / "bad"
    bad.mkdir()
    for name, (text, outcome) in cases.items():
        script = write_script(bad / name, text)
        expect(dumb_init_bin, [str(script)], outcome)
        # On PATH, with a good one in a later entry: the search goes on past it.
        good = tool(tmp_path / "good", name)
        env = env_with_path(f"{bad}:{good.parent}")
        expect(dumb_init_bin, [name, "z"], ran(f"good {good} z\n"), env=env)


def test_other_errors_end_the_search(dumb_init_bin: str, tmp_path: Path) -> None:
    """An error other than missing or refused means the command was found but cannot run: it is
    reported at once, and a good candidate later on PATH is not run."""
    loop, nested, good = tmp_path / "loop", tmp_path / "nested", tmp_path / "good"
    loop.mkdir()
    (loop / "tool").symlink_to(loop / "tool")
    # The kernel follows at most five levels of #! interpreters that are scripts themselves.
    nested.mkdir()
    interpreter = "/bin/sh"
    for level in range(8):
        interpreter = str(write_script(nested / f"level{level}", f"#!{interpreter}\n"))
    os.symlink(interpreter, nested / "tool")
    tool(good)
    too_many_levels = failed("Too many levels of symbolic links")
    for bad in (loop, nested):
        expect(dumb_init_bin, [str(bad / "tool")], too_many_levels)
        expect(dumb_init_bin, ["tool"], too_many_levels, env=env_with_path(f"{bad}:{good}"))


def test_empty_command_name(dumb_init_bin: str, tmp_path: Path) -> None:
    """An empty name names no file, even where the working directory is on PATH."""
    tool(tmp_path)
    for path in (None, "", str(tmp_path)):
        expect(dumb_init_bin, [""], NOT_FOUND, env=env_with_path(path), cwd=tmp_path)
    result = run([dumb_init_bin, "--", "", "x"])
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == b"[dumb-init] : No such file or directory\n"


STACK_LIMIT = 1 << 20
"""RLIMIT_STACK for the E2BIG test: the kernel then allows a quarter of it, 256 KiB, for the
arguments and environment of an exec."""


def small_stack() -> None:
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_LIMIT, STACK_LIMIT))


def padding(size: int) -> list[str]:
    """Arguments of ``size`` bytes in all, each well under the kernel's 128 KiB per string."""
    chunk = 50_000
    return ["p" * min(chunk, size - start) for start in range(0, size, chunk)]


def largest_accepted(
    argv: Sequence[str], executable: str, env: Mapping[str, str]
) -> tuple[int, subprocess.CompletedProcess[bytes]]:
    """The most padding the kernel accepts after ``argv`` when exec'ing ``executable``, by
    bisection, and the result of running with it."""

    def attempt(size: int) -> subprocess.CompletedProcess[bytes] | None:
        try:
            return run(
                [*argv, *padding(size)], env=as_env(env), executable=executable, preexec=small_stack
            )
        except OSError as e:
            if e.errno != errno.E2BIG:
                raise
            return None

    low, high = 0, 4 * STACK_LIMIT  # accepted, refused
    accepted = attempt(low)
    assert accepted is not None and attempt(high) is None
    while high - low > 1:
        middle = (low + high) // 2
        result = attempt(middle)
        if result is None:
            high = middle
        else:
            low, accepted = middle, result
    return low, accepted


@pytest.mark.timeout(120)
def test_argument_list_too_long(dumb_init_bin: str, tmp_path: Path) -> None:
    """The kernel takes dumb-init's own exec but not the child's (E2BIG): a #! line adds its
    interpreter and a 200-byte argument to the child's arguments. Found, but cannot run: the
    error is reported as it is."""
    script = write_script(tmp_path / "s", "#!/bin/echo " + "x" * 200 + "\n")
    _, result = largest_accepted(["d", str(script)], dumb_init_bin, base_env())
    too_long = f"[dumb-init] {script}: Argument list too long\n"
    assert (result.returncode, result.stdout, result.stderr) == (2, b"", too_long.encode())
    if GNU_ENV:
        assert ENV is not None
        _, result = largest_accepted([*ENV_ARGV, str(script)], ENV, {**base_env(), "LC_ALL": "C"})
        glibc = f"env: '{script}': Argument list too long\n"
        assert (result.returncode, result.stderr) == (126, glibc.encode())


@pytest.mark.parametrize("mode", MODES, ids=mode_id)
def test_lookup_is_the_same_in_every_mode(dumb_init_bin: str, tmp_path: Path, mode: Mode) -> None:
    """setsid or not, debug or not: the child's part before exec changes nothing in the lookup."""
    tool(tmp_path / "a", mode=0o644)
    (tmp_path / "b").mkdir()
    write_script(tmp_path / "b" / "plain", 'echo "$0 $1"\n')
    env = env_with_path(f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    ours = by_dumb_init(dumb_init_bin, ["plain", "1"], env, None, mode)
    assert ours == ran(f"{tmp_path / 'b' / 'plain'} 1\n")
    assert by_dumb_init(dumb_init_bin, ["tool"], env, None, mode) == DENIED
    assert by_dumb_init(dumb_init_bin, ["nothing"], env, None, mode) == NOT_FOUND
