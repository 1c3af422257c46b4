"""podman for the container tests (tests/test_container.py): a configuration and a storage of
their own, images made from a directory without any registry, and containers run attached with
their output read line by line.

Everything podman keeps (images, containers, pods, its database, its events) lives under one
directory that the tests remove at the end; the machine's own containers.conf and storage are
neither read for settings nor written. One thing escapes: podman 4.3's ``import`` records the
digests of the layers it stores in the machine's blob-info cache
(/var/lib/containers/cache/blob-info-cache-v1.boltdb), a cache that points at no image.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from testing import TIMEOUT, base_env
from testing.streams import LineReader

if TYPE_CHECKING:
    from typing_extensions import Self

# Debian's podman 4.3 with its default crun refuses hybrid cgroup hierarchies ("cgroups in
# hybrid mode not supported"); runc takes both kinds. Raising a container's nofile and nproc
# limits above the engine's own is refused (setrlimit: Operation not permitted) where the
# hard limits are low, so the containers, pod infra containers included, get lower ones.
# cgroupfs and the events file need no systemd or journald.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{base}/tmp"
volume_path = "{base}/volumes"

[network]
network_config_dir = "{base}/networks"
"""

# podman insists on a named driver. overlay is the fast one; vfs (a full copy per container)
# works on any file system, for machines whose /tmp cannot hold overlay mounts.
STORAGE_CONF = """\
[storage]
driver = "{driver}"
graphroot = "{base}/root"
runroot = "{base}/runroot"
"""

STOP_WARNING = "resorting to SIGKILL"
"""What podman prints when the stop timeout passed and it killed the container."""


def is_static(path: str | Path) -> bool:
    """True when the ELF file at ``path`` asks for no program interpreter (no ``PT_INTERP``
    segment): it runs in an image that has no shared libraries."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF":
            return False
        order = "<" if header[5] == 1 else ">"
        if header[4] == 2:  # 64-bit: e_phoff at 32, e_phentsize and e_phnum at 54
            (phoff,) = struct.unpack_from(order + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
        else:  # 32-bit: e_phoff at 28, e_phentsize and e_phnum at 42
            (phoff,) = struct.unpack_from(order + "I", header, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    return all(
        struct.unpack_from(order + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum)
    )


class Podman:
    """The podman command with the tests' own configuration and storage under ``base``."""

    def __init__(self, exe: str, base: Path, driver: str) -> None:
        self.exe = exe
        self.base = base
        self.driver = driver
        (base / "containers.conf").write_text(CONTAINERS_CONF.format(base=base))
        (base / "storage.conf").write_text(STORAGE_CONF.format(base=base, driver=driver))
        self.env = base_env(
            {
                "CONTAINERS_CONF": str(base / "containers.conf"),
                "CONTAINERS_STORAGE_CONF": str(base / "storage.conf"),
            }
        )
        # These would send every command to another (remote) podman service.
        for remote in ("CONTAINER_HOST", "CONTAINER_CONNECTION"):
            self.env.pop(remote, None)

    def run(
        self, *args: str, timeout: float = 60, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS`` to its end; with ``check``, a failure raises with its stderr."""
        result = subprocess.run(
            [self.exe, *args],
            env=self.env,
            input=stdin.decode("latin-1") if stdin is not None else None,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="latin-1",
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def timed(
        self, *args: str, timeout: float = 60
    ) -> tuple[float, subprocess.CompletedProcess[str]]:
        """Run ``podman ARGS`` (which must succeed); return the seconds it took and its result."""
        start = time.monotonic()
        result = self.run(*args, timeout=timeout)
        return time.monotonic() - start, result

    def inspect(self, name: str, template: str) -> str:
        """One field of ``podman inspect`` (a Go template such as ``{{.State.Pid}}``)."""
        return self.run("inspect", "--format", template, name).stdout.strip()

    def import_image(self, name: str, root: Path, changes: Sequence[str] = ()) -> None:
        """Make image ``name`` from the directory ``root``: its tar on ``podman import``'s stdin,
        every file owned by root, each ``changes`` line a Dockerfile instruction."""
        buffer = io.BytesIO()

        def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for entry in sorted(root.iterdir()):
                tar.add(entry, arcname=entry.name, filter=as_root)
        args = ["import", "--quiet"]
        for change in changes:
            args += ["--change", change]
        self.run(*args, "-", name, stdin=buffer.getvalue(), timeout=120)

    def attached(self, *args: str) -> Attached:
        """``podman run ARGS`` with its output (stdout and stderr together) read line by line."""
        return Attached([self.exe, "run", *args], self.env)

    def leftovers(self) -> dict[str, list[str]]:
        """The names of every container and pod, and the tags of every image, in this storage."""
        return {
            "containers": self.run("ps", "--all", "--format", "{{.Names}}").stdout.split(),
            "pods": self.run("pod", "ps", "--format", "{{.Name}}").stdout.split(),
            "images": self.run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split(),
        }

    def remove(self, containers: Iterable[str] = (), pods: Iterable[str] = ()) -> None:
        """Remove these containers and pods, stopping them at once if they run; ignore the
        ones that were never made."""
        names = list(containers)
        if names:
            self.run("rm", "--force", "--ignore", "--time", "0", *names)
        pod_names = list(pods)
        if pod_names:
            self.run("pod", "rm", "--force", "--ignore", "--time", "0", *pod_names)

    def remove_everything(self) -> None:
        """Remove all containers, pods and images of this storage, then the storage itself."""
        try:
            self.run("pod", "rm", "--all", "--force", "--time", "0", check=False)
            self.run("rm", "--all", "--force", "--time", "0", check=False)
            self.run("rmi", "--all", "--force", check=False)
        finally:
            _unmount_under(self.base)
            shutil.rmtree(self.base, ignore_errors=True)


def _unmount_under(base: Path) -> None:
    """Lazily unmount anything still mounted below ``base`` (deepest first), so that removing
    the directory cannot reach into a mounted file system."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    prefix = str(base) + "/"
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def start(exe: str, base: Path) -> Podman | str:
    """A working ``Podman`` with its storage in ``base``, or why there can be none here.

    Tries overlay, then vfs (overlay's set-up fails where /tmp cannot hold overlay mounts,
    such as on an overlay file system itself).
    """
    reasons = []
    for driver in ("overlay", "vfs"):
        podman = Podman(exe, base, driver)
        info = podman.run("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
        if info.returncode == 0:
            return podman
        reasons.append(f"{driver}: {info.stderr.strip()[-500:]}")
        _unmount_under(base)
        for state in ("root", "runroot", "tmp"):  # podman keeps the driver in its database
            shutil.rmtree(base / state, ignore_errors=True)
    return "podman cannot start here (" + "; ".join(reasons) + ")"


class Attached:
    """An attached ``podman run``: ``out`` reads the container's output and podman's messages."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.popen.stdout is not None
        self.out = LineReader(self.popen.stdout.fileno(), "podman run")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        assert self.popen.stdout is not None
        self.popen.stdout.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """``podman run``'s exit status: the container's."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"podman run did not end within {timeout:g}s; output {self.out.history!r}"
            ) from None

    def rest(self, timeout: float = TIMEOUT) -> list[str]:
        """The output lines not read yet, up to the end (each within ``timeout``)."""
        return self.out.rest(timeout)


def tree_of_files(root: Path, files: dict[str, str | Path], links: dict[str, str]) -> None:
    """Fill ``root``: ``files`` maps paths in the image to a file to copy (``Path``) or a text
    to write as an executable script (``str``), ``links`` paths to symlink targets."""
    for rel, source in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source)
        os.chmod(target, 0o755)
    for rel, dest in links.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, target)
