"""Finding and loading policy folders: unreadable or odd entries, bounded reads, one calendar
for every command, source texts kept inside their folder, and no dependence on the working
directory.

Every refusal is checked for its exit code, its error code, the file (and line) it names,
the absence of a traceback, and that nothing was written.

Tests run as root, where `chmod 000` does not stop a read. An unreadable folder or file is
therefore simulated by making `os.scandir` (for the folder) or textio's `open` (for the
file) raise PermissionError for that one path, and a dangling symbolic link is used as a
second, real unreadable entry.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import main
from policy_engine import textio
from policy_engine.report import golden

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
POLICY = f"{XJ}/2025-04-21.yaml"
CALENDAR = "_shared/cn-workdays.calendar.yaml"
# A reply that runs into 2027, whose 调休 the shipped calendar does not know yet (a golden case).
LATE_REPLY = ROOT / "fixtures" / XJ / "deadline" / "reply-in-2027-no-calendar.yaml"


@pytest.fixture
def tree(tmp_path):
    """A policies folder with one policy (004) and the shared files."""
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    (root / XJ).mkdir()
    for name in ("source.txt", "2025-04-21.yaml"):
        shutil.copy(ROOT / "policies" / XJ / name, root / XJ / name)
    return root


def snapshot(folder: Path) -> dict:
    """Every entry under a folder: regular files by content, others by kind (never opened)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file() and path.stat().st_size > 1 << 24:  # a huge test file: not read here either
                out[rel] = ("large", path.stat().st_size, path.stat().st_mtime_ns)
            elif path.is_file():
                out[rel] = path.read_bytes()
            else:
                out[rel] = ("other", path.lstat().st_mode)
    return out


def cli(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def problems_of(result) -> list[dict]:
    return json.loads(result.stdout)["problems"]


def refused(tree: Path, *, code: str, file: str, line: int | None = None, words: str = "") -> dict:
    """`check` of the tree exits 3 with a problem of `code` naming `file` (and `line`); nothing written."""
    before = snapshot(tree)
    text = cli("check", tree)
    assert text.exit_code == 3, text.output
    assert "Traceback" not in text.output and f"{file}" in text.stderr
    result = cli("check", tree, "--format", "json")
    assert result.exit_code == 3
    hits = [p for p in problems_of(result) if p["code"] == code and p.get("file", "").endswith(file)]
    assert hits, problems_of(result)
    if line is not None:
        assert hits[0].get("line") == line, hits[0]
    assert words in hits[0]["message"], hits[0]
    assert snapshot(tree) == before
    return hits[0]


def line_of(file: Path, text: str) -> int:
    content = file.read_text(encoding="utf-8")
    return content[: content.index(text)].count("\n") + 1


# -- 1. unreadable folders and files are problems, never skipped --------------------------------------

def test_an_unreadable_policy_folder_is_a_problem_not_a_policy_fewer(tree, monkeypatch):
    real = os.scandir
    blocked = str(tree / XJ)

    def scandir(path="."):
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = refused(tree, code="file_unreadable", file=XJ, words="Permission denied")
    assert found["file"] == str(tree / XJ)


def test_an_unreadable_policy_file_is_a_problem(tree, monkeypatch):
    real = open
    blocked = str(tree / POLICY)

    def fake_open(file, *args, **kwargs):
        if os.fspath(file) == blocked:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(textio, "open", fake_open, raising=False)
    refused(tree, code="file_unreadable", file=POLICY, words="Permission denied")


def test_a_dangling_link_is_a_problem(tree):
    (tree / XJ / "2026-01-01.yaml").symlink_to(tree / "nowhere.yaml")
    refused(tree, code="file_unreadable", file=f"{XJ}/2026-01-01.yaml", words="does not exist")


# -- 2. pipes, sockets, devices and link loops ---------------------------------------------------------

def test_a_fifo_under_policies_is_reported_not_opened(tree):
    fifo = tree / XJ / "2026-01-01.yaml"
    os.mkfifo(fifo)
    before = snapshot(tree)
    # a subprocess with a timeout: opening the pipe would block for ever
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check", str(tree), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    found = [p for p in json.loads(run.stdout)["problems"] if p["code"] == "file_unreadable"]
    assert found and found[0]["file"] == str(fifo) and "not a regular file" in found[0]["message"]
    assert snapshot(tree) == before


def test_a_fifo_as_source_text_is_refused_at_source_file(tree):
    (tree / XJ / "source.txt").unlink()
    os.mkfifo(tree / XJ / "source.txt")
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check", str(tree), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3 and "Traceback" not in run.stderr
    problems = json.loads(run.stdout)["problems"]
    at = [p for p in problems if p["code"] == "source_missing"]
    assert at and at[0]["file"].endswith(POLICY) and at[0]["line"] == line_of(tree / POLICY, "file: source.txt")


def test_a_symlink_loop_is_a_problem_not_an_internal_error(tree):
    (tree / XJ / "loop.yaml").symlink_to("loop.yaml")
    refused(tree, code="file_unreadable", file=f"{XJ}/loop.yaml", words="loops")


def test_a_folder_linking_to_its_parent_is_a_problem(tree):
    (tree / XJ / "up").symlink_to("..")
    refused(tree, code="file_unreadable", file=f"{XJ}/up", words="loop")


# -- 3. bounded reads ------------------------------------------------------------------------------------

def _limited_memory() -> None:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("target,code,limit", [
    (POLICY, "file_too_large", "2 MiB"),
    (f"{XJ}/source.txt", "source_missing", "8 MiB"),
    (CALENDAR, "file_too_large", "2 MiB"),
])
def test_a_huge_file_is_refused_after_reading_at_most_its_limit(tree, target, code, limit):
    """A 16 GiB (sparse) file, checked with 3 GiB of address space: reading it whole would fail
    (MemoryError, exit 70); reading at most limit + 1 bytes refuses it as too large (exit 3)."""
    with open(tree / target, "r+b") as fh:
        fh.truncate(16 << 30)
    before = snapshot(tree)
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "check", str(tree), "--format", "json"],
                         capture_output=True, text=True, timeout=300, preexec_fn=_limited_memory)
    assert run.returncode == 3 and "Traceback" not in run.stderr, run.stderr[-2000:]
    problems = json.loads(run.stdout)["problems"]
    found = [p for p in problems if p["code"] == code and limit in p["message"]]
    assert found, problems
    where = POLICY if target.endswith("source.txt") else target
    assert found[0]["file"].endswith(where)
    if target.endswith("source.txt"):  # located at the policy's source.file line
        assert found[0]["line"] == line_of(tree / POLICY, "file: source.txt")
    assert snapshot(tree) == before


# -- 4. one calendar: the policies folder's, for check, decide and the digest ------------------------------

def _publish_2027(tree: Path) -> None:
    """The copy's calendar knows 2027: 1 January off, no make-up days."""
    (tree / CALENDAR).write_text(
        "id: test-calendar\ntitle: t\nyears:\n  2027:\n    source: 国办发明电〔2026〕N号（测试）\n"
        "    holidays: ['2027-01-01']\n    workdays: []\n", encoding="utf-8")


def _decide(*policies) -> dict:
    import yaml
    fixture = yaml.safe_load(LATE_REPLY.read_text(encoding="utf-8"))
    args = ["decide", "--policy", XJ, "--decision", "deadline", "--as-of", fixture["as_of"], "-"]
    for folder in policies:
        args[1:1] = ["--policies", folder]
    result = cli(*args, input=json.dumps(fixture["case"]))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_decide_uses_and_hashes_the_calendar_of_the_policies_folder(tree):
    bundled = _decide()
    assert bundled["outcome"] == "undetermined"
    assert any(CALENDAR in e and "policies/" + CALENDAR not in e for e in bundled["errors"])
    copy = _decide(tree)
    assert copy == bundled  # same files, same verdict
    _publish_2027(tree)
    assert cli("check", tree).exit_code == 0
    changed = _decide(tree)
    assert changed["outcome"] == "compliant" and not changed.get("errors")
    assert changed["policy"]["sha256"] != bundled["policy"]["sha256"]
    assert _decide() == bundled  # the bundled policies still use the bundled calendar


def test_check_validates_the_calendar_of_the_folder_it_checks(tree):
    calendar = tree / CALENDAR
    text = calendar.read_text(encoding="utf-8").replace("    status: statutory_only\n", "")
    calendar.write_text(text, encoding="utf-8")  # now a published year listing weekend days as holidays
    found = refused(tree, code="schema", file=CALENDAR, words="falls on a weekend")
    assert found["line"] and found["file"] == str(calendar)
    result = cli("check", tree, "--format", "json")
    used = [p for p in problems_of(result) if p["code"] == "calendar"]
    assert used and used[0]["file"].endswith(POLICY) and used[0]["line"]
    assert cli("check", ROOT / "policies").exit_code == 0  # the bundled calendar is not the one checked


def test_a_policy_counting_working_days_needs_its_folders_calendar(tree):
    (tree / CALENDAR).unlink()
    found = refused(tree, code="calendar", file=POLICY, words="is not there")
    assert found["line"]
    result = cli("decide", "--policies", tree, "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23",
                 ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml")
    assert result.exit_code == 3 and "Traceback" not in result.output


# -- 5. source.file stays inside the policy's folder ---------------------------------------------------------

@pytest.mark.parametrize("written", ["../../../../etc/hostname", "/etc/hostname", "../_shared/" + CALENDAR.split("/")[1],
                                     "linked.txt"])
def test_a_source_outside_the_policy_folder_is_refused(tree, written):
    if written == "linked.txt":
        (tree / XJ / "linked.txt").symlink_to("/etc/hostname")
    policy = tree / POLICY
    line = line_of(policy, "file: source.txt")
    policy.write_text(policy.read_text(encoding="utf-8").replace("file: source.txt", f"file: {written}", 1),
                      encoding="utf-8")
    found = refused(tree, code="source_path", file=POLICY, line=line, words=written)
    assert "outside" in found["message"] or "leaves" in found["message"]


# -- 6. nothing depends on the working directory --------------------------------------------------------------

def test_golden_cases_pass_from_another_folder_and_update_changes_nothing(tmp_path):
    before = snapshot(ROOT / "fixtures")
    for args in (["test"], ["test", "--update"]):
        run = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=tmp_path, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        assert "updated" not in run.stdout and "Traceback" not in run.stderr
    assert snapshot(ROOT / "fixtures") == before
    assert not any(tmp_path.iterdir())  # nothing written where it ran


def test_check_and_decide_say_the_same_from_any_folder(tmp_path, monkeypatch):
    case = json.dumps({"step": {"kind": "usage_application_review", "start": "2026-12-30", "end": "2027-01-04"}})

    def both():
        check = cli("check", "--format", "json")
        decide = cli("decide", "--policy", XJ, "--decision", "deadline", "--as-of", "2027-01-05", "-", input=case)
        return check.exit_code, check.stdout, decide.exit_code, decide.stdout
    monkeypatch.chdir(ROOT)
    here = both()
    monkeypatch.chdir(tmp_path)
    there = both()
    assert here == there and here[0] == 0 and here[2] == 0
    assert str(ROOT) not in here[1] + here[3] and CALENDAR in here[3]


def test_a_policy_named_from_inside_its_folder_loads(tree, monkeypatch):
    monkeypatch.chdir(tree / XJ)
    result = cli("check", "2025-04-21.yaml")
    assert result.exit_code == 0, result.output


# -- 7. each problem once; an empty folder is nothing to check ------------------------------------------------

def test_a_vocabulary_problem_is_reported_once(tree):
    for other in ("chifeng-decision-expert-pool", "guiyang-petition-expert-pool"):
        shutil.copytree(ROOT / "policies" / other, tree / other)
    vocab = tree / "_shared" / "expert-pool.vocab.yaml"
    text = vocab.read_text(encoding="utf-8")
    vocab.write_text(text.replace("\n  expert.education:\n", "\n  expert.education__x:\n", 1), encoding="utf-8")
    found = refused(tree, code="schema", file="_shared/expert-pool.vocab.yaml", words="expert.education__x")
    assert found["line"]
    result = cli("check", tree)
    assert result.stderr.count("expert.education__x") == 1
    problems = problems_of(cli("check", tree, "--format", "json"))
    messages = [(p["code"], p.get("file"), p.get("line"), p["message"]) for p in problems]
    assert len(messages) == len(set(messages))
    imports = [p for p in problems if p["code"] == "vocabulary" and "cannot import" in p["message"]]
    assert len(imports) == 3 and not [p for p in problems if p["code"] == "unknown_fact"]


def test_an_empty_folder_is_nothing_to_check(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("check", empty)
    assert result.exit_code == 3 and "nothing to check" in result.stderr and str(empty) in result.stderr
    assert "ok" not in result.stdout
    found = problems_of(cli("check", empty, "--format", "json"))
    assert found[0]["code"] == "no_policies" and found[0]["file"] == str(empty)
    listed = cli("list", "--policies", empty)
    assert listed.exit_code == 3 and str(empty) in listed.stderr
    assert list(empty.iterdir()) == []


# -- 8. policy-engine test and pytest agree ---------------------------------------------------------------------

def test_the_command_checks_the_floor_of_golden_cases(tmp_path):
    folder = tmp_path / XJ / "entry"
    folder.mkdir(parents=True)
    source = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
    shutil.copy(source, folder / source.name)
    shutil.copy(source.with_suffix(".verdict.json"), folder / source.with_suffix(".verdict.json").name)
    assert cli("test", "--fixtures", tmp_path).exit_code == 0  # a chosen subset: no floor unless asked
    result = cli("test", "--fixtures", tmp_path, "--min-cases", str(golden.MIN_CASES))
    assert result.exit_code == 1
    assert f"1 golden case(s) for {XJ} entry" in result.stdout and f"0 golden case(s) for {XJ} exit" in result.stdout
    from policy_engine import Registry
    short = golden.coverage(Registry.load(), tmp_path, golden.MIN_CASES)  # what the pytest suite calls
    assert {r.fixture for r in short} == {line.split(": ")[0][5:] for line in result.stdout.splitlines()
                                          if line.startswith("FAIL ")}


def test_the_bundled_suite_meets_the_floor_the_command_applies():
    from policy_engine import Registry
    assert golden.coverage(Registry.load(), golden.default_fixture_dir(), golden.MIN_CASES) == []
    assert golden.leftovers(golden.default_fixture_dir()) == []
