"""docs/dumb-init.1, the man page the Debian packages and the wheel carry, documents what the
binary's ``--help`` lists: each option in OPTIONS, each variable in ENVIRONMENT, and nothing more.
"""

from __future__ import annotations

import re
import subprocess

from testing import ROOT, TIMEOUT, base_env

MAN_PAGE = ROOT / "docs" / "dumb-init.1"
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")
VARIABLE = re.compile(r"\bDUMB_INIT_[A-Z_]+")


def help_text(binary: str) -> str:
    result = subprocess.run(
        [binary, "--help"],
        check=False,
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def help_items(text: str, heading: str) -> str:
    """The item names of one part of --help: the first column of its lines (an option's
    name and value, a variable and its example)."""
    part = text.split(heading, 1)[1].split("\n\n", 1)[0]
    lines = part.splitlines()[1:]
    # An item starts within the first few columns; its description's next lines are indented
    # further.
    items = [line for line in lines if len(line) - len(line.lstrip()) < 10]
    assert items, f"nothing under {heading!r} in --help"
    return "\n".join(re.split(r"\s{2,}", line.strip())[0] for line in items)


def plain(roff: str) -> str:
    """Roff without font escapes and with its minus signs as hyphens."""
    return re.sub(r"\\f[BIRP]", "", roff).replace("\\-", "-").replace("\\(aq", "'")


def man_items(section: str) -> str:
    """The tags of a man page section's items (the line after each ``.TP``), as plain text
    (``.BR a ", " b`` becomes ``a , b``: enough to find names in)."""
    roff = MAN_PAGE.read_text()
    match = re.search(rf"^\.SH {section}\n(.*?)(?=^\.SH )", roff, re.MULTILINE | re.DOTALL)
    assert match, f"no {section} section in {MAN_PAGE.name}"
    lines = match.group(1).splitlines()
    tags = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == ".TP"]
    return plain("\n".join(re.sub(r"^\.[A-Z]+ ", "", tag).replace('"', "") for tag in tags))


def test_every_option_of_help_is_in_the_man_page(dumb_init_bin: str) -> None:
    listed = set(OPTION.findall(help_items(help_text(dumb_init_bin), "Optional arguments:")))
    assert {"-c", "--single-child", "-r", "--rewrite", "--help", "--wait-all"} <= listed
    documented = set(OPTION.findall(man_items("OPTIONS")))
    assert listed - documented == set(), "options of --help missing from the man page"
    assert documented - listed == set(), "options in the man page that --help does not list"


def test_every_variable_of_help_is_in_the_man_page(dumb_init_bin: str) -> None:
    listed = set(VARIABLE.findall(help_items(help_text(dumb_init_bin), "Environment variables")))
    assert {"DUMB_INIT_DEBUG", "DUMB_INIT_SETSID", "DUMB_INIT_WAIT_ALL"} <= listed
    documented = set(VARIABLE.findall(man_items("ENVIRONMENT")))
    assert listed - documented == set(), "variables of --help missing from the man page"
    assert documented - listed == set(), "variables in the man page that --help does not list"


def test_man_page_has_the_sections_a_reader_looks_for() -> None:
    roff = MAN_PAGE.read_text()
    sections = re.findall(r"^\.SH (.+)$", roff, re.MULTILINE)
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "SIGNALS"):
        assert name in sections, name
    for name in ("EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert name in sections, name
