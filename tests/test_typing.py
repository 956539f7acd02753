"""The package type-checks: mypy, configured by [tool.mypy] in pyproject.toml, finds no issue.

mypy comes with the test extra (pip install -e '.[test]'); without it this test fails and says so."""
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_issue():
    assert importlib.util.find_spec("mypy") is not None, (
        f"mypy is not installed for {sys.executable}: install the test extra (pip install -e '.[test]')")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"mypy exited with {done.returncode}:\n{done.stdout}{done.stderr}"
