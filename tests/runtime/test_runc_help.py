"""imgtool-runc's help in runc's urfave/cli layout: `NAME:` then `PROG - summary` / `PROG VERB - summary`,
for every verb runc has (checkpoint and restore too, which imgtool refuses to run), exit 0 for -h and
--help, and "No help topic" for a verb runc does not have (runc's tests/integration/help.bats)."""

from __future__ import annotations

import os

import pytest

from imgtool.runtime.runc import VERBS
from imgtool.runtime.runchelp import SUMMARIES

from .runc_fixtures import runc, runc_bin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the fixture's state root)")


def test_program_help_names_the_runtime_and_every_verb(runc):
    for flag in ("-h", "--help"):
        lines = runc.ok(flag).splitlines()
        assert lines[0] == "NAME:" and lines[1].startswith("   imgtool-runc - Open Container Initiative runtime")
        listed = {line.split()[0] for line in lines[lines.index("COMMANDS:") + 1:lines.index("GLOBAL OPTIONS:")] if line}
        assert listed == set(VERBS) | {"checkpoint", "restore"}


@pytest.mark.parametrize("verb", sorted(SUMMARIES))
def test_every_verb_answers_help_with_its_name_and_flags(runc, verb):
    for flag in ("-h", "--help"):
        lines = runc.ok(verb, flag).splitlines()
        assert lines[0] == "NAME:" and lines[1].startswith(f"   imgtool-runc {verb} - "), lines
        assert "   --help, -h" in lines
    if verb == "exec":
        assert "   --process value, -p value" in lines and "   --tty, -t" in lines


def test_help_is_not_taken_from_the_command_exec_runs(runc):
    proc = runc("exec", "no-such-container", "ls", "-h")  # -h is ls's, so exec runs (and fails here)
    assert proc.returncode != 0 and b"does not exist" in proc.stderr


def test_refused_and_unknown_verbs_still_fail(runc):
    assert runc("checkpoint", "x").returncode == 1
    proc = runc("foo", "-h")
    assert proc.returncode == 1 and b"No help topic for 'foo'" in proc.stderr
