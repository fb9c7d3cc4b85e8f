#!/usr/bin/env python3
"""Every help of the `anytls` tool works (tools/anytls/main.cpp, command.cpp).

Usage: test_help.py PATH_TO_ANYTLS

`anytls --help`, `anytls -h`, `anytls help`, `anytls help CMD` and `anytls CMD --help` for every
command the main help lists (demo, smoke, socks, server, plan and version at least): exit 0,
a "Usage:" line, the options and the exit codes; no colour when stdout is not a terminal;
`anytls` alone prints the help to stderr and exits 2. Standard library only; plain asserts.
"""
import os
import re
import subprocess
import sys

from cli_runner import run_tests

# The binary: argv[1] when run as a script (tests/cli/meson.build), else $ANYTLS (pytest).
ANYTLS = sys.argv[1] if __name__ == "__main__" and len(sys.argv) > 1 else os.environ.get("ANYTLS", "anytls")
REQUIRED = {"demo", "smoke", "socks", "server", "plan", "version"}


def run(*args):
    return subprocess.run([ANYTLS, *args], capture_output=True, text=True, timeout=60)


def listed_commands():
    result = run("--help")
    section = result.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [re.match(r"\s+(\S+)", line).group(1) for line in section.splitlines() if line.strip()]


def test_main_help_in_every_spelling():
    for args in (("--help",), ("-h",), ("help",)):
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.startswith("Usage: anytls <command>"), (args, result.stdout[:200])
        assert "Exit codes:" in result.stdout and "\x1b[" not in result.stdout
    alone = run()
    assert alone.returncode == 2 and "Usage:" in alone.stderr


def test_every_command_is_listed_and_has_help():
    commands = listed_commands()
    assert REQUIRED <= set(commands), commands
    for command in commands:
        for args in ((command, "--help"), (command, "-h"), ("help", command), (command, "--bogus", "--help")):
            result = run(*args)
            assert result.returncode == 0, (args, result.returncode, result.stderr)
            assert result.stdout.startswith(f"Usage: anytls {command}"), (args, result.stdout[:200])
            assert "Options:" in result.stdout and "--help" in result.stdout, args
            assert "Exit codes:" in result.stdout and "\x1b[" not in result.stdout, args


def test_exit_codes_are_documented():
    text = run("--help").stdout
    for code in range(0, 9):
        assert re.search(rf"^  {code}  \S", text, re.MULTILINE), (code, text)


def test_unknown_command_is_a_sentence():
    result = run("smok")
    assert result.returncode == 2 and "did you mean \"smoke\"" in result.stderr, result.stderr
    result = run("help", "nothing")
    assert result.returncode == 2 and "unknown command" in result.stderr, result.stderr


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
