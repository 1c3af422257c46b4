"""Find the ``dumb-init`` binary that was installed with this package.

The binary itself is built from Rust and installed by the wheel as the
``dumb-init`` script; this package only locates it (``exec_path``) and reports
the installed version. ``python -m dumb_init`` (``__main__``) runs it.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["__version__", "exec_path"]

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("dumb-init")
except PackageNotFoundError:  # not installed, e.g. imported from the source tree
    __version__ = "0+unknown"

_NAME = "dumb-init"
_PREFIX_VARS = ("base", "platbase", "userbase")


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    return f"{os.name}_user"


def _scripts_dirs() -> list[Path]:
    """Directories an installer may have put the binary in, best first."""
    site_dir = Path(__file__).resolve().parent.parent
    # pip install --target DIR: scripts go to DIR/bin, next to DIR/dumb_init.
    dirs = [site_dir / "bin"]
    # The scheme (venv, system, --user, --prefix) and prefix whose library
    # directory is the one this package was installed in.
    for prefix in site_dir.parents:
        config = dict.fromkeys(_PREFIX_VARS, str(prefix))
        for scheme in sysconfig.get_scheme_names():
            try:
                paths = sysconfig.get_paths(scheme, vars=config)
            except (KeyError, AttributeError):  # needs a variable we lack
                continue
            if str(site_dir) in (paths.get("purelib"), paths.get("platlib")):
                dirs.append(Path(paths["scripts"]))
    # The running interpreter's default and user schemes.
    dirs.append(Path(sysconfig.get_path("scripts")))
    if _user_scheme() in sysconfig.get_scheme_names():
        dirs.append(Path(sysconfig.get_path("scripts", _user_scheme())))
    return list(dict.fromkeys(dirs))


def exec_path() -> str:
    """Return the absolute path of the installed ``dumb-init`` binary.

    The binary that belongs to this installation wins over one on ``PATH``.
    Raises :class:`FileNotFoundError` naming every place it looked in.
    """
    dirs = _scripts_dirs()
    for d in dirs:
        candidate = d / _NAME
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute())
    found = shutil.which(_NAME)
    if found is not None:
        return os.path.abspath(found)
    looked = ", ".join(str(d / _NAME) for d in dirs)
    raise FileNotFoundError(f"{_NAME} binary not found in {looked} or on PATH")
