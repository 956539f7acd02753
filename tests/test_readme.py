"""The README's worked examples are real output: every example block is run and compared.

A block is a fenced code block whose lines starting with `$ ` are shell commands and whose
other lines are what they print. Blocks whose commands are all `policy-engine`, `echo`,
`cat`, `sed` or `cut` are run in order, one scratch folder for the whole README (so a receipt
one block writes is there for the next), with `fixtures/` and `policies/` linked in and
`policy-engine` meaning this checkout's command line. A command written with `...` in place of
its arguments is an abbreviation, not a command: its block is not run. `$ cat FILE` of a file
that does not exist yet writes the lines shown as that file (how the README shows an input).

The printed lines must appear in the command's output in the same order; a line `...` stands
for lines left out, and a line ending in `...` for the rest of that line.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = {"policy-engine", "echo", "cat", "sed", "cut"}


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    blocks, current, start = [], None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if current is None:
                current, start = [], number
            else:
                blocks.append((start, current))
                current = None
        elif current is not None:
            current.append(line)
    return [(start, lines) for start, lines in blocks if any(line.startswith("$ ") for line in lines)]


def _steps(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(command, expected lines) pairs; a command may continue over lines ending in a backslash."""
    steps: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1].rstrip() + " " + lines[i].strip()
            steps.append((command, []))
        elif steps:
            steps[-1][1].append(line)
        i += 1
    return steps


def _runnable(steps) -> bool:
    for command, _ in steps:
        if "..." in command.split("#")[0] or "…" in command:
            return False
        words = shlex.split(command, comments=True)
        if not words or words[0] not in RUNNABLE:
            return False
    return True


def _matches(expected: list[str], actual: list[str]) -> str | None:
    """None when every expected line is found in order; else the first one missing."""
    at = 0
    for want in expected:
        want = want.rstrip()
        if want in ("...", "…", ""):
            continue
        prefix = want[:-3] if want.endswith("...") else None
        while at < len(actual):
            got = actual[at].rstrip()
            at += 1
            if got == want or (prefix is not None and got.startswith(prefix)):
                break
        else:
            return want
    return None


EXAMPLES = [(start, steps) for start, lines in _blocks((ROOT / "README.md").read_text(encoding="utf-8"))
            for steps in [_steps(lines)] if _runnable(steps)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    for name in ("fixtures", "policies", "benchmarks", "examples"):
        (folder / name).symlink_to(ROOT / name)
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "policy-engine"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m policy_engine \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("POLICY_ENGINE_POLICIES", None)
    return folder, env


def test_the_readme_has_examples_to_run():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("start, steps", EXAMPLES, ids=[f"README.md:{s}" for s, _ in EXAMPLES])
def test_readme_example(start, steps, scratch):
    folder, env = scratch
    status = 0
    for command, expected in steps:
        words = shlex.split(command, comments=True)
        if words[0] == "cat" and len(words) == 2 and not (folder / words[1]).exists():
            (folder / words[1]).write_text("\n".join(expected) + "\n", encoding="utf-8")
            continue
        command = re.sub(r"\$\?", str(status), command) if words[0] == "echo" else command
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
        status = done.returncode
        actual = (done.stdout + done.stderr).splitlines()
        missing = _matches(expected, actual)
        assert missing is None, (f"README.md:{start}: `{command}` no longer prints\n    {missing}\n"
                                 f"it printed (exit {status}):\n" + "\n".join(actual[:80]))
