"""The command tree as a docker user reads it: help on every option, words for metavars, an example
under every command, `-h`, one-line usage errors with exit 125, version and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from imgtool.cli import helptext
from imgtool.cli.main import command_tree


def _commands(command=None, path=()):
    command = command or command_tree()
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, path + (name,))


COMMANDS = list(_commands())


def _help(path: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        command_tree().main([*path, "--help"], prog_name="imgtool")
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "imgtool" for p, _ in COMMANDS])
def test_every_command_reads_like_docker(path, command, capsys):
    text = _help(path, capsys)
    assert not re.search(r"<(str|int|float|list|bool|path)", text), text  # Python types as metavars
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            assert param.help, f"imgtool {' '.join(path)} {param.opts[-1]} has no help line"
    assert (command.help or "").strip(), f"imgtool {' '.join(path)} has no description"
    if path and path != ("runtime",):  # `imgtool runtime` prints imgtool-runc's help, in runc's format
        assert "Example:" in text, f"imgtool {' '.join(path)}: add an example to cli/helptext.EXAMPLES"
        assert "..." not in (command.short_help or ""), command.short_help


def test_no_example_names_a_command_that_does_not_exist():
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert set(helptext.EXAMPLES) <= paths, set(helptext.EXAMPLES) - paths


def test_summary_keeps_whole_words():
    assert helptext.summary("Send a signal (default KILL) to running containers.") == \
        "Send a signal to running containers"
    assert helptext.summary("Remove containers: -f removes running ones too.\n\nMore.") == "Remove containers"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imgtool", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.parametrize("args,where", [
    (("images", "--bogus"), "imgtool images"),
    (("tag",), "imgtool tag"),
    (("nosuchcommand",), "imgtool"),
    (("run", "--cpus"), "imgtool run"),
])
def test_usage_errors_are_one_line_with_a_hint_and_exit_125(args, where):
    proc = _cli(*args)
    assert proc.returncode == 125, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgtool: "), proc.stderr
    assert lines[0].endswith(f"see '{where} --help'"), lines[0]


def test_h_is_help_except_where_docker_gives_it_another_meaning():
    assert _cli("images", "-h").stdout.startswith("Usage: imgtool images")
    assert "-h, --hostname" in _cli("run", "--help").stdout  # docker run -h is the host name


def test_version_both_ways():
    from imgtool import __version__

    assert _cli("--version").stdout.strip() == f"imgtool version {__version__}"
    assert _cli("version").stdout.strip() == f"imgtool version {__version__}"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_and_candidates(shell):
    script = _cli("completion", shell)
    assert script.returncode == 0 and "_IMGTOOL_COMPLETE" in script.stdout, script
    # what the bash script asks the program at a TAB: the candidates for `imgtool bui`
    proc = _cli(env={"_IMGTOOL_COMPLETE": "complete_bash", "COMP_WORDS": "imgtool bui", "COMP_CWORD": "1"})
    assert proc.stdout.split() == ["build", "builder"], proc


def test_completion_of_an_unknown_shell_is_one_line():
    proc = _cli("completion", "tcsh")
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "tcsh" in proc.stderr


def test_info_names_the_store_and_the_host(tmp_path):
    import json

    proc = _cli("info", "--format", "json", env={"IMGTOOL_ROOT": str(tmp_path / "store")})
    facts = json.loads(proc.stdout)
    assert facts["StoreRoot"] == str(tmp_path / "store")
    assert facts["CgroupLayout"].startswith(("v1", "v2"))
    assert facts["Overlay"] in ("yes", "no (layers are copied instead)")


def test_cli_reference_is_generated_from_the_tree():
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, str(REPO / "scripts/cli-reference.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr  # run scripts/cli-reference.py after changing a command


# the report is an atexit handler: the CLI's exit runs those, then ends the process (cli/main._exit)
_IMPORTED = """
import atexit
import sys
sys.argv = ["imgtool", *sys.argv[1:]]
from imgtool.cli.main import GROUPS, run
atexit.register(lambda: print(" ".join(m for m in GROUPS if m in sys.modules), "jsonschema" in sys.modules,
                              file=sys.stderr))
run()
"""


@pytest.mark.parametrize("args,modules", [(("--help",), []), (("images",), ["imgtool.cli.images"]),
                                          (("builder", "--help"), ["imgtool.cli.build"])])
def test_a_call_imports_only_the_command_module_it_runs(args, modules, store):
    """cli/lazy.py: the top-level group loads a command's module on demand; the store's own index
    is read without jsonschema (store/validated.py)."""
    proc = subprocess.run([sys.executable, "-c", _IMPORTED, *args], capture_output=True, text=True, timeout=60)
    *imported, jsonschema = proc.stderr.split()
    assert imported == modules and jsonschema == "False", proc.stderr
