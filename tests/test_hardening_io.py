"""Reading input documents and writing outputs: every bad input or unwritable output is a
located refusal with its documented exit code, never a traceback, and nothing is written or
truncated on the way."""
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import policy_engine.cli as cli
from policy_engine.cli import main
from policy_engine import Registry, inputs, yamlio
from policy_engine.report import golden
from policy_engine.errors import CaseError, OutputError

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
CASE = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
REQUEST = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
RECEIPT = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.receipt.json"
PANEL = ROOT / "fixtures" / XJ / "panel" / "drawn-under-supervision.yaml"
SEED = "2b5c26b3db98220b413721c37ab4081143ad3f8e434221541cec9075dcdbc1e0"
PREVIOUS = b'{"previous": "receipt"}\n'

# Every command reading a document, with "DOC" where the document goes, the code its refusals
# carry, and whether it writes --out (then OUT is an existing file that must stay as it was).
COMMANDS = {
    "decide": (["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "DOC"], "case_invalid"),
    "draw": (["draw", "--policy", XJ, "--pool", POOL, "--request", "DOC", "--seed", SEED, "--out", "OUT"],
             "request_invalid"),
    "check-panel": (["check-panel", "--policy", XJ, "--pool", POOL, "DOC"], "request_invalid"),
    "verify-draw": (["verify-draw", "DOC", "--pool", POOL, "--format", "json"], "receipt_invalid"),
    "replenish-receipt": (["replenish", "DOC", "--pool", POOL, "--answers", "ANSWERS", "--out", "OUT"],
                          "receipt_invalid"),
    "replenish-answers": (["replenish", RECEIPT, "--pool", POOL, "--answers", "DOC", "--out", "OUT"],
                          "request_invalid"),
}

DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_MAP = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_YAML = "".join(f"{'  ' * i}k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1\n"

# name: (file name, bytes, expected (line, column) or None, expected path or None, message part)
BAD_FILES = {
    "deep-json-list": ("doc.json", DEEP_LIST.encode(), (1, 101), None, "nested more than 100"),
    "deep-json-object": ("doc.json", DEEP_MAP.encode(), (1, 501), None, "nested more than 100"),
    "deep-json-moderate": ("doc.json", ("[" * 150 + "]" * 150).encode(), (1, 101), None, "nested more than 100"),
    "deep-yaml": ("doc.yaml", DEEP_YAML.encode(), (101, 201), None, "nested more than 100"),
    "not-utf8": ("doc.yaml", b"date: '2026-11-20'\nid: \xff\xfe\n", (2, 5), None, "not UTF-8"),
    "surrogate-value": ("doc.json", b'{"a": {"b": ["ok", "x\\ud800"]}}', (1, 20), "a.b[1]", "not Unicode text"),
    "surrogate-key": ("doc.json", b'{"a": {"\\udfff": 1}}', (1, 8), "a.\\udfff", "not Unicode text"),
    "duplicate-surrogate-key": ("doc.json", b'{"\\ud800": 1, "\\ud800": 2}', None, None, "appears twice"),
    "huge-integer": ("doc.json", b'{"a": ' + b"9" * 5000 + b"}", None, None, "not valid JSON"),
}


_LOADED: dict = {}


@pytest.fixture(autouse=True)
def loaded_once(monkeypatch):
    """The policies are loaded once for this module (the commands under test read other files)."""
    load = Registry.load.__func__

    def cached(cls, *paths):
        if paths not in _LOADED:
            _LOADED[paths] = load(cls, *paths)
        return _LOADED[paths]
    monkeypatch.setattr(Registry, "load", classmethod(cached))


@pytest.fixture
def invoke():
    def run(args, input=None):
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        assert "Traceback" not in result.output
        return result
    return run


def prepared(command, tmp_path, doc):
    """The command's arguments with DOC, an existing --out file and answers filled in."""
    args, code = COMMANDS[command]
    out = tmp_path / "out" / "receipt.json"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(PREVIOUS)
    answers = tmp_path / "answers.yaml"
    answers.write_text("E001: accepted\n", encoding="utf-8")
    filled = [doc if a == "DOC" else out if a == "OUT" else answers if a == "ANSWERS" else a for a in args]
    return filled, code, out


def refused(result, code, exit_code=4):
    assert result.exit_code == exit_code, result.output
    out = json.loads(result.stdout)
    assert out["error"] == code, out
    return out["problems"][0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bad", BAD_FILES)
def test_bad_documents_are_located_refusals(invoke, tmp_path, command, bad):
    name, raw, at, path, words = BAD_FILES[bad]
    doc = tmp_path / name
    doc.write_bytes(raw)
    args, code, out = prepared(command, tmp_path, doc)
    found = refused(invoke(args), code)
    assert found["file"] == str(doc) and words in found["message"], found
    if at is not None:
        assert (found["line"], found["column"]) == at, found
    if path is not None:
        assert found["path"] == path, found
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in out.parent.iterdir()) == ["receipt.json"]


@pytest.mark.parametrize("command", COMMANDS)
def test_dev_zero_and_endless_stdin_are_refused_by_size(invoke, tmp_path, command):
    args, code, out = prepared(command, tmp_path, "/dev/zero")
    found = refused(invoke(args), code)
    assert found["file"] == "/dev/zero" and "larger than 2 MiB" in found["message"]
    args, code, out = prepared(command, tmp_path, "-")
    with open("/dev/zero", "rb") as endless:
        found = refused(invoke(args, input=endless), code)
    assert found["file"] == "<stdin>" and "larger than 2 MiB" in found["message"]
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("command", COMMANDS)
def test_non_utf8_stdin_is_located(invoke, tmp_path, command):
    args, code, out = prepared(command, tmp_path, "-")
    found = refused(invoke(args, input=b"date: x\n\xc3(\n"), code)
    assert found["file"] == "<stdin>" and (found["line"], found["column"]) == (2, 1)
    assert "byte 0xc3" in found["message"]
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("command", ["decide", "draw", "check-panel", "verify-draw"])
def test_text_errors_name_file_line_column_on_stderr(invoke, tmp_path, command):
    doc = tmp_path / "doc.json"
    doc.write_bytes(b'{"a": [\n  "\\ud800"]}')
    args, code, out = prepared(command, tmp_path, doc)
    if "--format" in args:
        at = args.index("--format")
        args = args[:at] + args[at + 2:]
    result = invoke(args + ["--format", "text"])
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith(f"{doc}:2:3: a[0]: the value is not Unicode text"), result.stderr


@pytest.mark.parametrize("receipt, path, words", [
    ("[1, 2]", "(document)", "a receipt is a JSON object, not a list"),
    ('"text"', "(document)", "a receipt is a JSON object, not a single value (str)"),
    ("{}", "(document)", "does not name its policy"),
    ('{"policy": [1]}', "policy", "does not name its policy"),
    ('{"policy": {"id": 7, "version": "2025-04-21"}}', "policy.id", "policy.id is missing or not text"),
    ('{"policy": {"id": "xj-iit-expert-pool"}}', "policy", "policy.version is missing or not text"),
])
@pytest.mark.parametrize("command", ["verify-draw", "replenish-receipt"])
def test_a_receipt_of_the_wrong_shape_is_a_receipt_error_not_an_unknown_policy(invoke, tmp_path, command,
                                                                              receipt, path, words):
    doc = tmp_path / "receipt.json"
    doc.write_text(receipt, encoding="utf-8")
    args, code, out = prepared(command, tmp_path, doc)
    found = refused(invoke(args), "receipt_invalid")
    assert found["path"] == path and words in found["message"], found
    assert out.read_bytes() == PREVIOUS


def test_a_yaml_receipt_error_is_located_by_line(invoke, tmp_path):
    doc = tmp_path / "receipt.yaml"
    doc.write_text("seed: ab\npolicy:\n  id: xj-iit-expert-pool\n  version: 2025\n", encoding="utf-8")
    found = refused(invoke(["verify-draw", doc, "--pool", POOL, "--format", "json"]), "receipt_invalid")
    assert (found["line"], found["column"], found["path"]) == (4, 12, "policy.version")


def test_a_bad_case_is_located_by_line_and_column(invoke, tmp_path):
    doc = tmp_path / "case.yaml"
    doc.write_text("expert:\n  birth_date: 12\n", encoding="utf-8")
    result = invoke(COMMANDS["decide"][0][:-1] + [doc, "--format", "text"])
    assert result.exit_code == 4
    assert result.stderr.startswith(f"{doc}:2:15: expert.birth_date: expected a date"), result.stderr


def test_a_file_name_that_is_not_utf8_is_printed_escaped(invoke, tmp_path):
    doc = Path(os.fsdecode(bytes(tmp_path) + b"/\xfc.yaml"))
    doc.write_text("expert:\n  bogus: 1\n", encoding="utf-8")
    found = refused(invoke(COMMANDS["decide"][0][:-1] + [doc]), "case_invalid")
    assert found["file"].endswith("/\\udcfc.yaml") and (found["line"], found["column"]) == (2, 10)


# --- outputs -------------------------------------------------------------------------------

def draw_args(out, fmt="json"):
    return ["draw", "--policy", XJ, "--pool", POOL, "--request", REQUEST, "--seed", SEED, "--out", out,
            "--format", fmt]


def test_out_into_a_missing_folder_is_exit_73(invoke, tmp_path):
    out = tmp_path / "missing" / "receipt.json"
    found = refused(invoke(draw_args(out)), "output_unwritable", 73)
    assert found["file"] == str(out) and "cannot write" in found["message"]
    assert not out.parent.exists()


def test_out_failure_in_text_is_one_located_line_and_no_receipt(invoke, tmp_path):
    out = tmp_path / "missing" / "receipt.json"
    result = invoke(draw_args(out, "text"))
    assert result.exit_code == 73 and result.stdout == ""
    assert result.stderr.startswith(f"{out}: cannot write the file: No such file or directory")


def test_out_into_a_read_only_folder_is_exit_73_and_the_old_receipt_stays(invoke, tmp_path, monkeypatch):
    out = tmp_path / "receipt.json"
    out.write_bytes(PREVIOUS)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    found = refused(invoke(draw_args(out)), "output_unwritable", 73)
    assert "Permission denied" in found["message"]
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("failing", ["write", "fsync"])
@pytest.mark.parametrize("command", ["draw", "replenish"])
def test_a_full_disk_leaves_the_previous_receipt_byte_identical(invoke, tmp_path, monkeypatch, failing, command):
    out = tmp_path / "receipt.json"
    out.write_bytes(PREVIOUS)
    answers = tmp_path / "answers.yaml"
    answers.write_text("E001: accepted\n", encoding="utf-8")
    args = draw_args(out) if command == "draw" else ["replenish", RECEIPT, "--pool", POOL, "--answers", answers,
                                                     "--out", out]
    if failing == "fsync":
        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(os, "fsync", full)
    else:
        real = os.fdopen

        class Full:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(real(fd, mode, *a, **k)))
    found = refused(invoke(args), "output_unwritable", 73)
    assert "No space left on device" in found["message"]
    assert out.read_bytes() == PREVIOUS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_out_to_dev_full_is_exit_73_and_dev_full_stays_a_device(invoke):
    found = refused(invoke(draw_args("/dev/full")), "output_unwritable", 73)
    assert "No space left on device" in found["message"]
    assert Path("/dev/full").is_char_device()


def test_out_follows_a_symlink_and_keeps_it(invoke, tmp_path):
    target = tmp_path / "real.json"
    target.write_bytes(PREVIOUS)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = invoke(draw_args(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and target.read_text(encoding="utf-8") == result.stdout


def test_a_good_draw_writes_the_same_bytes_to_out_and_stdout(invoke, tmp_path):
    out = tmp_path / "receipt.json"
    out.write_bytes(PREVIOUS)
    result = invoke(draw_args(out))
    assert result.exit_code == 0
    assert out.read_bytes() == result.stdout_bytes == RECEIPT.read_bytes()


def cli_process(*args, stdout, stdin=subprocess.DEVNULL):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], stdout=stdout,
                          stdin=stdin, stderr=subprocess.PIPE, timeout=120)


@pytest.mark.parametrize("args", [
    ["seed"],
    ["list", "--format", "json"],
    ["facts", "--policy", XJ],
    ["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", CASE, "--format", "text"],
    ["draw", "--policy", XJ, "--pool", POOL, "--request", REQUEST, "--seed", SEED],
    ["replenish", RECEIPT, "--pool", POOL, "--answers", "ANSWERS"],
    ["verify-draw", RECEIPT, "--pool", POOL],
    ["check-panel", "--policy", XJ, "--pool", POOL, PANEL],
    ["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "BAD"],  # a JSON error on stdout
    ["verify-draw", "BAD", "--pool", POOL, "--format", "json"],
], ids=lambda a: a[0] + ("-error" if "BAD" in a else ""))
def test_a_full_stdout_is_exit_73_in_one_line(args, monkeypatch, capsys, tmp_path):
    answers, bad = tmp_path / "answers.yaml", tmp_path / "bad.json"
    answers.write_text("E001: accepted\n", encoding="utf-8")
    bad.write_text("[", encoding="utf-8")
    args = [answers if a == "ANSWERS" else bad if a == "BAD" else a for a in args]
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # run() would give this test process SIGPIPE
    monkeypatch.setattr(sys, "argv", ["policy-engine", *map(str, args)])
    with open("/dev/full", "w", encoding="utf-8") as full:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(SystemExit) as ended:
            cli.run()
        monkeypatch.undo()
    assert ended.value.code == 73
    err = capsys.readouterr().err
    assert err == "policy-engine: output_unwritable: <stdout>: cannot write the output: No space left on device\n"


def test_a_real_full_stdout_is_exit_73_in_one_line():
    with open("/dev/full", "wb") as full:
        done = cli_process("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", CASE,
                           stdout=full)
    assert done.returncode == 73
    assert done.stderr == b"policy-engine: output_unwritable: <stdout>: cannot write the output: " \
                          b"No space left on device\n"


def test_a_closed_pipe_ends_quietly_by_sigpipe():
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "list", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command prints
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == -signal.SIGPIPE
    assert err == b""


def test_exit_code_73_is_in_the_help():
    result = CliRunner().invoke(main, ["--help"])
    assert "73 an output cannot be written" in " ".join(result.output.split())


# --- the library: inputs and golden updates -------------------------------------------------

def test_load_refuses_what_read_refuses_from_bytes_and_text():
    with pytest.raises(CaseError) as caught:
        inputs.load(b"\xff", "x.yaml", inputs.CASE)
    assert caught.value.problems[0].code == "case_invalid" and caught.value.problems[0].line == 1
    with pytest.raises(CaseError) as caught:
        inputs.load(b" " * (inputs.MAX_BYTES + 1), "x.yaml", inputs.RECEIPT)
    assert caught.value.problems[0].code == "receipt_invalid"
    with pytest.raises(CaseError):
        inputs.load("\u6570" * (inputs.MAX_BYTES // 3 + 1), "x.yaml")  # under the limit in characters, not bytes
    assert inputs.load('{"a": "\\ud83d\\ude00"}', "x.json").data == {"a": "\U0001F600"}  # a pair is text


def test_good_documents_read_as_before():
    doc = inputs.read_case(CASE)
    assert doc.file == str(CASE) and doc.data["case"]["expert"]
    assert inputs.fixture_case(doc).data == doc.data["case"]
    assert inputs.fixture_case(doc).mark(("expert",)).line > 1
    receipt = inputs.read_receipt(RECEIPT)
    assert inputs.receipt_policy(receipt) == (XJ, receipt.data["policy"]["version"])


def test_answers_must_be_a_mapping(tmp_path):
    doc = tmp_path / "answers.yaml"
    doc.write_text("- E001\n", encoding="utf-8")
    with pytest.raises(CaseError) as caught:
        inputs.read_answers(doc)
    assert caught.value.problems[0].code == "request_invalid" and caught.value.problems[0].line == 1
    doc.write_text("E001: accepted\n", encoding="utf-8")
    assert inputs.read_answers(doc).data == {"E001": "accepted"}


def test_nesting_at_the_limit_is_accepted():
    depth = yamlio.MAX_DEPTH
    assert inputs.load("[" * depth + "]" * depth, "x.json").data is not None
    with pytest.raises(CaseError):
        inputs.load("[" * (depth + 1) + "]" * (depth + 1), "x.json")


def test_a_failed_golden_update_leaves_the_stored_file_byte_identical(tmp_path, monkeypatch):
    fixture = tmp_path / "case.yaml"
    stored = tmp_path / "case.verdict.json"
    stored.write_bytes(b'{"old": true}\n')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    result = golden._compare(fixture, stored, '{"new": true}\n', update=True)
    assert not result.ok and "output_unwritable" not in result.message and "No space left" in result.message
    assert stored.read_bytes() == b'{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.verdict.json"]


def test_write_output_raises_output_error_for_a_device_that_is_full():
    with pytest.raises(OutputError) as caught:
        inputs.write_output("/dev/full", "x")
    assert caught.value.exit_code == 73 and caught.value.code == "output_unwritable"


def test_no_module_writes_files_except_through_textio():
    package = ROOT / "policy_engine"
    offenders = []
    for path in [*package.rglob("*.py"), ROOT / "cli.py"]:
        text = path.read_text(encoding="utf-8")
        for needle in ("write_text(", "write_bytes(", '"w")', "'w')", '"wb")', '"a")'):
            if needle in text and path.name not in ("textio.py", "inputs.py"):
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []
