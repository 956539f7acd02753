"""Deciding many cases at once (policy_engine/batch.py, `decide --cases`): records, order,
identity with single decisions, CSV and JSON lines, workers, interruption, Dask."""
import csv
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import policy_engine.cli as cli
from policy_engine import batch
from policy_engine.batch import Defaults, decide_file, decide_many, registry_for
from policy_engine.yamlio import read

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
AS_OF = "2026-11-23"
DEFAULTS = ("--policy", XJ, "--decision", "entry", "--as-of", AS_OF)

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_entry import generate  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return registry_for(None)


def _run(*args, input=None):
    result = CliRunner().invoke(cli.main, [str(a) for a in args], input=input, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def _lines(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _write_jsonl(path: Path, items) -> Path:
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i, ensure_ascii=False)) + "\n" for i in items),
                    encoding="utf-8")
    return path


GOOD = {"expert": {"birth_date": "1965-05-01", "title_rank": "senior", "years_in_field": 12,
                   "registered_qualification": False, "senior_management_expert": False,
                   "recommended_by_employer": True,
                   "records": {"academic_misconduct": False, "bad_credit": False, "misconduct": False},
                   "attested": {k: True for k in ("political_standing", "familiar_with_field_rules", "field_expertise",
                                                  "professional_ethics", "analytic_ability", "availability", "health")}}}


def test_mixed_good_and_bad_lines_give_error_records_and_the_batch_goes_on(tmp_path):
    items = [
        GOOD,                                                            # 1
        "not json",                                                      # 2
        "",                                                              # 3 blank: no record
        {"expert": {"title_rank": "boss"}},                              # 4 wrong enum
        {"expert": {"shoe_size": 42}},                                   # 5 unknown fact
        {"case": GOOD, "decision": "exit"},                              # 6 envelope: another decision
        {"case": GOOD, "policy": "no-such-policy"},                      # 7
        {"case": GOOD, "as_of": "2030-01-01"},                           # 8 not in force
        {"case": GOOD, "colour": "red"},                                 # 9 not an envelope field
        {"policy": XJ, "expert": {}},                                    # 10 envelope without case
        "[1, 2]",                                                        # 11 not an object
        {"case": GOOD, "as_of": "23/11/2026"},                           # 12 bad date
        GOOD,                                                            # 13
    ]
    cases = _write_jsonl(tmp_path / "mixed.jsonl", items)
    r = _run("decide", *DEFAULTS, "--cases", cases, "--jobs", 1)
    assert r.exit_code == 4, r.stderr
    records = _lines(r.stdout_bytes)
    assert len(records) == 12  # one per non-blank line, in order
    errors = {rec["line"]: rec for rec in records if "error" in rec}
    assert {n: rec["error"] for n, rec in errors.items()} == {
        2: "case_invalid", 4: "case_invalid", 5: "case_invalid", 7: "unknown_policy", 8: "not_in_force",
        9: "case_invalid", 10: "case_invalid", 11: "case_invalid", 12: "case_invalid"}
    for n, rec in errors.items():
        assert set(rec) == {"error", "line", "problems"}
        for p in rec["problems"]:
            assert p["line"] == n and p["file"] == str(cases) and p["code"] and p["message"]
    assert errors[4]["problems"][0]["path"] == "expert.title_rank"
    assert errors[5]["problems"][0]["path"] == "expert.shoe_size"
    assert errors[2]["problems"][0]["column"] == 1
    verdicts = [rec for rec in records if "error" not in rec]
    assert [v["decision"] for v in verdicts] == ["entry", "exit", "entry"]
    assert all("outcome" in v for v in verdicts)
    assert records[0] == records[-1]
    assert [v["outcome"] for v in verdicts] == ["eligible", "undetermined", "eligible"]
    assert "\r" not in r.stderr  # no progress display when stderr is not a terminal
    assert "12 cases: 2 decided, 1 undetermined, 9 refused (first refused: line 2)" in r.stderr


def test_all_decided_exits_0_and_undetermined_is_counted(tmp_path):
    cases = _write_jsonl(tmp_path / "ok.jsonl", [GOOD, {"expert": {}}, GOOD])
    r = _run("decide", *DEFAULTS, "--cases", cases, "--jobs", 1)
    assert r.exit_code == 0
    assert [rec["outcome"] for rec in _lines(r.stdout_bytes)][1] == "undetermined"
    assert "3 cases: 2 decided, 1 undetermined, 0 refused" in r.stderr


def test_lines_name_their_own_policy_decision_and_date_without_defaults(tmp_path):
    cases = _write_jsonl(tmp_path / "own.jsonl", [{"policy": XJ, "decision": "entry", "as_of": AS_OF, "case": GOOD},
                                                  {"case": GOOD}])
    r = _run("decide", "--cases", cases, "--as-of", AS_OF, "--jobs", 1)
    assert r.exit_code == 4
    first, second = _lines(r.stdout_bytes)
    assert first["outcome"] == "eligible"
    assert second["error"] == "case_invalid" and second["problems"][0]["path"] == "policy"


def _single_fixtures() -> list[Path]:
    return [p for p in sorted((ROOT / "fixtures").glob("*/*/*.yaml")) if p.parent.name not in ("draw", "panel")]


def test_every_verdict_line_is_byte_identical_to_single_decide_compact(tmp_path, registry, monkeypatch):
    """Every golden case (all decisions, all policies) as an envelope line; each record equals
    `decide --compact` of the fixture file alone (a rejected case: the same error and problems)."""
    fixtures = _single_fixtures()
    assert len(fixtures) > 100
    lines = []
    for f in fixtures:
        data = read(f).data
        lines.append({"policy": data["policy"], "decision": data["decision"], "as_of": str(data["as_of"]),
                      "case": data["case"]})
    cases = tmp_path / "golden.jsonl"
    cases.write_text("".join(json.dumps(x, ensure_ascii=False, default=str) + "\n" for x in lines), encoding="utf-8")
    r = _run("decide", "--cases", cases, "--jobs", 1)
    out = r.stdout_bytes.decode("utf-8").splitlines(keepends=True)
    assert len(out) == len(fixtures)
    monkeypatch.setattr(cli, "_registry", lambda dirs, fmt, lazy=False: registry)  # the single decisions: policies loaded once
    rejected = 0
    for n, (f, record, line) in enumerate(zip(fixtures, out, lines, strict=True), start=1):
        single = _run("decide", "--policy", line["policy"], "--decision", line["decision"], "--as-of", line["as_of"],
                      "--compact", f)
        if single.exit_code == 0:
            assert record == single.stdout, f
        else:
            rejected += 1
            expected, got = json.loads(single.stdout), json.loads(record)
            assert got["error"] == expected["error"] and got["line"] == n
            strip = lambda ps: [{k: v for k, v in p.items() if k not in ("file", "line", "column")} for p in ps]  # noqa: E731
            assert strip(got["problems"]) == strip(expected["problems"]), f
    assert 0 < rejected < len(fixtures) // 10
    assert r.exit_code == 4


def _flat(case: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in case.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out[name] = value
    return out


def _cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def test_csv_and_json_lines_of_the_same_cases_give_the_same_verdicts(tmp_path):
    cases = generate(300, 11)
    for i, c in enumerate(cases):
        if i % 7 == 0:
            c["expert"]["fields"] = ["装备制造", "软件"]
        if i % 11 == 0:
            c["expert"]["specialties"] = []
    rows = [_flat(c) for c in cases]
    columns = sorted({k for row in rows for k in row}) + ["as_of", "decision"]
    as_of = ["2026-01-15" if i % 5 == 0 else "" for i in range(len(cases))]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row, day in zip(rows, as_of):
        writer.writerow([_cell(row[c]) if c in row and row[c] != [] else "" for c in columns[:-2]] + [day, ""])
    (tmp_path / "cases.csv").write_text(buf.getvalue(), encoding="utf-8")
    # in CSV an empty list and an absent list are both an empty cell: state it the same way in JSON
    for c in cases:
        if c["expert"].get("specialties") == []:
            del c["expert"]["specialties"]
    _write_jsonl(tmp_path / "cases.jsonl", [{"as_of": d, "case": c} if d else c for c, d in zip(cases, as_of)])
    a = _run("decide", *DEFAULTS, "--cases", tmp_path / "cases.csv", "--jobs", 1)
    b = _run("decide", *DEFAULTS, "--cases", tmp_path / "cases.jsonl", "--jobs", 1)
    assert a.exit_code == b.exit_code == 0, a.stdout[:500]
    assert a.stdout_bytes == b.stdout_bytes
    records = _lines(a.stdout_bytes)
    assert len(records) == 300 and {r["as_of"] for r in records} == {AS_OF, "2026-01-15"}


def test_csv_cells_are_typed_by_the_vocabulary_and_bad_cells_refuse_their_row(tmp_path, registry):
    text = ("expert.birth_date,expert.title_rank,expert.years_in_field,expert.registered_qualification,"
            "expert.fields,policy,decision\n"
            "1960-05-01,senior,12,是,装备制造；软件,,\n"
            "1960-13-01,chief,twelve,maybe,,,\n"
            ",,,,,,\n"
            '"1960-05-01",senior,12,false,"a;b",,recusal\n'
            "1960-05-01,senior,12\n")
    path = tmp_path / "typed.csv"
    path.write_text(text, encoding="utf-8")
    records = list(decide_file(path, registry, Defaults(XJ, "entry", AS_OF)))
    assert [r.line for r in records] == [2, 3, 5, 6]
    assert [r.status for r in records] == ["undetermined", "refused", "undetermined", "refused"]
    bad = json.loads(records[1].text)
    assert [(p["column"], p["path"]) for p in bad["problems"]] == [
        (1, "expert.birth_date"), (2, "expert.title_rank"), (3, "expert.years_in_field"),
        (4, "expert.registered_qualification")]
    assert json.loads(records[2].text)["decision"] == "recusal"
    assert "3 cells, the header 7" in json.loads(records[3].text)["problems"][0]["message"]


def test_csv_header_problems_stop_the_batch(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("expert.title_rank,expert.title_rank\nsenior,senior\n", encoding="utf-8")
    r = _run("decide", *DEFAULTS, "--cases", path, "--jobs", 1)
    assert r.exit_code == 4
    out = _lines(r.stdout_bytes)
    assert len(out) == 1 and out[0]["error"] == "case_invalid" and out[0]["problems"][0]["column"] == 2
    assert "nothing decided" in r.stderr


def test_whole_batch_errors_exit_with_their_codes(tmp_path):
    cases = _write_jsonl(tmp_path / "c.jsonl", [GOOD])
    r = _run("decide", "--policy", "xj-iit-expert-pol", "--decision", "entry", "--cases", cases)
    assert r.exit_code == 5 and _lines(r.stdout_bytes)[0]["error"] == "unknown_policy"
    r = _run("decide", *DEFAULTS, "--cases", tmp_path / "missing.jsonl")
    assert r.exit_code == 4 and _lines(r.stdout_bytes)[0]["error"] == "case_invalid"
    r = _run("decide", *DEFAULTS, "--cases", cases, "--format", "text")
    assert r.exit_code == 2
    r = _run("decide", *DEFAULTS, "--cases", cases, cases)
    assert r.exit_code == 2
    r = _run("decide", "--policy", XJ, "--as-of", AS_OF, ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml")
    assert r.exit_code == 2 and "--decision" in r.output


def test_stdin_long_lines_and_bad_utf8(tmp_path, registry, monkeypatch):
    monkeypatch.setattr(batch, "MAX_LINE", 2000)
    long_case = json.dumps({"expert": {"name": "x" * 5000}})
    data = (json.dumps(GOOD) + "\n" + long_case + "\n" + '{"expert": {"name": "\xff"}}\n').encode("utf-8")
    data = data.replace("\xff".encode("utf-8"), b"\xff")  # a byte that is not UTF-8
    data += (json.dumps(GOOD) + "\n").encode("utf-8")
    r = _run("decide", *DEFAULTS, "--cases", "-", "--jobs", 1, input=data)
    assert r.exit_code == 4
    records = _lines(r.stdout_bytes)
    assert [rec.get("line") for rec in records] == [None, 2, 3, None]
    assert "longer than" in records[1]["problems"][0]["message"]
    assert records[2]["problems"][0]["file"] == "<stdin>" and records[2]["problems"][0]["column"] == 22
    assert records[0] == records[3]


def test_decide_many_library(registry):
    records = list(decide_many([GOOD, {"case": GOOD, "decision": "recusal"}, json.dumps(GOOD), "  ", {"x": 1}],
                               registry, Defaults(XJ, "entry", AS_OF)))
    assert [r.line for r in records] == [1, 2, 3, 5]
    assert [r.status for r in records] == ["decided", "undetermined", "decided", "refused"]
    assert records[0].text == records[2].text and records[0].text.endswith("\n")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_with_rate_and_time_left(tmp_path, registry):
    cases = _write_jsonl(tmp_path / "p.jsonl", [GOOD] * 40)
    out, err = io.BytesIO(), _Terminal()
    shown = []
    original = batch._Progress.update

    def update(self, done, consumed):
        self.last = -1.0  # show every update
        original(self, done, consumed)
        shown.append(self.err.getvalue())
    with pytest.MonkeyPatch.context() as m:
        m.setattr(batch._Progress, "update", update)
        m.setattr(batch, "CHUNK_CASES", 10)
        code = batch.run_batch(str(cases), None, Defaults(XJ, "entry", AS_OF), 1, out=out, err=err)
    assert code == 0 and out.getvalue().count(b"\n") == 40
    assert len(shown) == 4 and "40 cases" in shown[-1] and "/s" in shown[-1]
    assert "100% of the input, about 0 s left" in shown[-1]
    assert "\r\x1b[Kpolicy-engine: done: 40 cases" in err.getvalue()  # the display is cleared before the summary
    quiet = io.StringIO()
    assert batch.run_batch(str(cases), None, Defaults(XJ, "entry", AS_OF), 1, out=io.BytesIO(), err=quiet) == 0
    assert "\r" not in quiet.getvalue() and quiet.getvalue().count("\n") == 1


def _subprocess_batch(cases: Path, jobs: int, **kwargs):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "decide", *DEFAULTS, "--cases", str(cases),
                           "--jobs", str(jobs)], capture_output=True, timeout=600, **kwargs)


def test_jobs_2_equals_jobs_1_byte_for_byte(tmp_path):
    items: list = list(generate(800, 3))
    for i in range(0, 800, 97):
        items[i] = {"expert": {"title_rank": "boss"}} if i % 2 else "{broken"
    cases = _write_jsonl(tmp_path / "many.jsonl", items)
    one = _subprocess_batch(cases, 1)
    two = _subprocess_batch(cases, 2)
    assert one.returncode == two.returncode == 4, one.stderr
    assert one.stdout == two.stdout
    records = _lines(two.stdout)
    assert len(records) == 800
    assert [rec["line"] for rec in records if "error" in rec] == [i + 1 for i in range(0, 800, 97)]
    assert b"800 cases" in two.stderr and b"9 refused" in two.stderr


def test_sigint_leaves_whole_lines_and_exits_130(tmp_path):
    cases = _write_jsonl(tmp_path / "large.jsonl", generate(40_000, 5))
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "decide", *DEFAULTS, "--cases", str(cases),
                                 "--jobs", "2"], stdout=fh, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while out.stat().st_size < 200_000 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    data = out.read_bytes()
    assert data.endswith(b"\n")
    records = _lines(data)
    assert 0 < len(records) < 40_000
    assert all("outcome" in r for r in records)
    assert b"interrupted after" in err and b"Traceback" not in err


def test_dask_recipe_equals_the_single_process_result(tmp_path):
    try:
        import dask.bag as db
        from distributed import Client, LocalCluster
    except ImportError as exc:  # the test extra installs dask[distributed]: missing it is a failure
        pytest.fail(f"dask[distributed] is needed for the Dask recipe test (pip install -e '.[test]'): {exc}")
    items: list = list(generate(600, 9))
    items[17] = "{broken"
    items[400] = {"case": items[400], "decision": "recusal"}
    cases = _write_jsonl(tmp_path / "dask.jsonl", items)
    single = _run("decide", *DEFAULTS, "--cases", cases, "--jobs", 1)
    assert single.exit_code == 4
    expected = single.stdout_bytes.decode("utf-8")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        from_path = batch.dask_decide([str(cases)], None, policy=XJ, decision="entry", as_of=AS_OF).compute()
        bag = db.read_text(str(cases), blocksize=40_000)
        assert bag.npartitions > 2
        from_bag = batch.dask_decide(bag, None, policy=XJ, decision="entry", as_of=AS_OF)
        assert from_bag.npartitions == bag.npartitions
        lines = from_bag.compute()
    assert "".join(line + "\n" for line in from_path) == expected
    got = "".join(line + "\n" for line in lines)
    # the bag's records name no file; everything else is the same, byte for byte
    assert got == expected.replace(f',"file":{json.dumps(str(cases))}', "")
    assert json.loads(lines[17])["line"] == 18


def test_a_reader_that_goes_away_ends_the_batch_quietly(tmp_path):
    cases = _write_jsonl(tmp_path / "pipe.jsonl", generate(3000, 4))  # ~11 MB of verdicts: more than a pipe holds
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "decide", *DEFAULTS, "--cases", str(cases),
                             "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b'{"policy"')
    proc.stdout.close()
    proc.stdout = None  # gone: what follows reads stderr alone, and a process that hangs fails the test
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the batch did not end after its reader went away (its workers not stopped)")
    assert proc.returncode == batch.EXIT_BROKEN_PIPE
    assert b"Traceback" not in err
