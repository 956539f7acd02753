"""Periods in months, years, hours and minutes, lengths the case sets, and 民法典 第二百零三条.

The five founding texts state no period in months in a deadline and none counts hours or
minutes, so these tests write a small policy of their own (source text, policy, the shipped
working-day calendar) to a temporary folder and decide cases under it: month ends
(1-31 plus one month), 29 February, a last day on 国庆 2026 moved to the next working day
only where the policy declares the rule, a year no calendar covers, a missing length, and
times of day refused as dates are (through the CLI too, with its exit codes).
"""
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import CaseError, decide, load_policy
from policy_engine.cli import main
from policy_engine.policy import functions as fn
from policy_engine.policy.loader import check_policy
from policy_engine.policy.workdays import CalendarGap, using

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """测试期限办法

第一条 当事人应当自收到通知之日起三个月内提出申请。
第二条 公示期不少于一年。
第三条 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日。
第四条 被通知人应当在整改通知书载明的期限内完成整改。
第五条 评审专家应当在评审开始后三十分钟内到场；事故应当在发生后二小时内报告。
第六条 本办法自2020年1月1日起施行。
"""

HOLIDAY = """      last_day_on_holiday:
        cite: {article: 3}
        quote: 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日
"""

POLICY = """id: time-test
version: "2020-01-01"
title: 测试期限办法
issuer: 测试
self_name: 本办法
in_force:
  from: "2020-01-01"
  cite: {article: 6}
  quote: 本办法自2020年1月1日起施行
source:
  file: source.txt
  sha256: %(sha)s
facts:
  declare:
    step.kind:
      type: enum
      values: [application, notice, rectification, arrival, report]
      description: 程序步骤
    step.start: {type: date, description: 起算之日（不计入）}
    step.end: {type: date, description: 完成之日}
    step.time_limit_days: {type: integer, min: 0, description: 整改通知书载明的整改期限（日）}
    step.started_at: {type: datetime, description: 开始的时刻}
    step.done_at: {type: datetime, description: 到场或报告的时刻}
deadlines:
  rules:
    - id: application
      cite: {article: 1}
      quote: 当事人应当自收到通知之日起三个月内提出申请
      strength: mandatory
      applies_when: step.kind == 'application'
      measure: within
      length: 3
      unit: months
      from: step.start
      to: step.end
%(holiday)s    - id: notice
      cite: {article: 2}
      quote: 公示期不少于一年
      strength: mandatory
      applies_when: step.kind == 'notice'
      measure: at_least
      length: 1
      unit: years
      from: step.start
      to: step.end
    - id: rectification
      cite: {article: 4}
      quote: 被通知人应当在整改通知书载明的期限内完成整改
      strength: mandatory
      applies_when: step.kind == 'rectification'
      measure: within
      length: step.time_limit_days
      unit: calendar_days
      from: step.start
      to: step.end
    - id: arrival
      cite: {article: 5}
      quote: 评审专家应当在评审开始后三十分钟内到场
      strength: mandatory
      applies_when: step.kind == 'arrival'
      measure: within
      length: 30
      unit: minutes
      from: step.started_at
      to: step.done_at
    - id: report
      cite: {article: 5}
      quote: 事故应当在发生后二小时内报告
      strength: mandatory
      applies_when: step.kind == 'report'
      measure: within
      length: 2
      unit: hours
      from: step.started_at
      to: step.done_at
"""


def write(root: Path, holiday: bool = True, policy: str = POLICY) -> Path:
    """The test policy in root/time-test/, with the shipped calendar in root/_shared/."""
    (root / "_shared").mkdir(exist_ok=True)
    shutil.copy(ROOT / "policies" / "_shared" / "cn-workdays.calendar.yaml", root / "_shared")
    folder = root / "time-test"
    folder.mkdir(exist_ok=True)
    data = SOURCE.encode("utf-8")
    (folder / "source.txt").write_bytes(data)
    file = folder / "2020-01-01.yaml"
    file.write_text(policy % {"sha": hashlib.sha256(data).hexdigest(), "holiday": HOLIDAY if holiday else ""},
                    encoding="utf-8")
    return file


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    moved = write(tmp_path_factory.mktemp("moved"))
    plain = write(tmp_path_factory.mktemp("plain"), holiday=False)
    return load_policy(moved), load_policy(plain)


def finding(verdict, rule):
    return next(f for f in verdict.findings if f.rule == rule)


def run(policy, step, as_of="2026-12-31"):
    return decide(policy, "deadline", {"step": step}, as_of)


# -- months and years -----------------------------------------------------------------------

@pytest.mark.parametrize("start, due", [
    ("2026-01-31", "2026-04-30"),   # no 31 April: the month's last day
    ("2025-11-30", "2026-02-28"),   # no 30 February
    ("2025-11-29", "2026-02-28"),
    ("2025-11-28", "2026-02-28"),
    ("2025-11-27", "2026-02-27"),
])
def test_three_months_end_on_the_corresponding_day_or_the_months_last(policies, start, due):
    moved, plain = policies
    for policy in policies:  # 2026-02-28 is a Saturday worked (春节调休), so the rule moves nothing here
        verdict = run(policy, {"kind": "application", "start": start, "end": due})
        assert verdict.outcome == "compliant"
        assert dict(finding(verdict, "application").values)["due"] == due
        late = run(policy, {"kind": "application", "start": start, "end": fn.add_days(due, 1)})
        assert late.outcome == "non_compliant"


def test_a_last_day_on_a_weekend_moves_to_monday(policies):
    moved, plain = policies
    # 2026-07-31 + 3 months = 2026-10-31 (31 October exists), a Saturday: the last day is Monday 2 November
    step = {"kind": "application", "start": "2026-07-31", "end": "2026-11-02"}
    verdict = run(moved, step)
    assert verdict.outcome == "compliant"
    assert dict(finding(verdict, "application").values) == {
        "due": "2026-11-02", "corresponding_day": "2026-10-31", "counted": 3}
    assert run(moved, {**step, "end": "2026-11-03"}).outcome == "non_compliant"
    assert run(plain, step).outcome == "non_compliant"


@pytest.mark.parametrize("day, due", [(d, f"2026-02-{min(d, 28):02d}") for d in range(1, 32)])
def test_one_month_from_every_day_of_january(day, due):
    start = f"2026-01-{day:02d}"
    assert fn.add_months(start, 1) == due
    assert fn.months_between(start, due) == 1
    assert fn.months_between(start, fn.add_days(due, -1)) == 0


def test_months_from_29_february(policies):
    _, plain = policies
    assert fn.add_years("2024-02-29", 1) == "2025-02-28"
    assert fn.add_months("2024-02-29", 12) == "2025-02-28"
    assert fn.add_months("2024-02-29", 48) == "2028-02-29"
    # 公示期不少于一年 from 2024-02-29: it ends on 2025-02-28, which is enough; 2025-02-27 is not
    assert run(plain, {"kind": "notice", "start": "2024-02-29", "end": "2025-02-28"}).outcome == "compliant"
    short = run(plain, {"kind": "notice", "start": "2024-02-29", "end": "2025-02-27"})
    assert short.outcome == "non_compliant"
    assert dict(finding(short, "notice").values) == {"due": "2025-02-28", "counted": 0}


def test_add_years_is_the_dates_module():
    assert fn.add_years("2026-01-31", 2) == "2028-01-31"
    with pytest.raises(ValueError):
        fn.add_years("9999-06-01", 1)
    with pytest.raises(ValueError):
        fn.add_months("2026-1-31", 1)  # the strict reader


# -- 第二百零三条: a last day on a holiday ------------------------------------------------------

def test_last_day_on_national_day_moves_to_the_next_working_day(policies):
    moved, plain = policies
    # three months from 2026-07-01 end on 2026-10-01, 国庆: 2026-10-08 is the next working day
    step = {"kind": "application", "start": "2026-07-01", "end": "2026-10-08"}
    verdict = run(moved, step)
    assert verdict.outcome == "compliant"
    assert dict(finding(verdict, "application").values) == {
        "due": "2026-10-08", "corresponding_day": "2026-10-01", "counted": 3}
    assert run(moved, {**step, "end": "2026-10-09"}).outcome == "non_compliant"
    # the policy that does not declare the rule keeps the corresponding day
    verdict = run(plain, step)
    assert verdict.outcome == "non_compliant"
    assert dict(finding(verdict, "application").values)["due"] == "2026-10-01"


def test_a_working_last_day_is_not_moved(policies):
    moved, _ = policies
    verdict = run(moved, {"kind": "application", "start": "2026-06-15", "end": "2026-09-15"})
    assert verdict.outcome == "compliant"
    values = dict(finding(verdict, "application").values)
    assert values["due"] == values["corresponding_day"] == "2026-09-15"
    assert run(moved, {"kind": "application", "start": "2026-06-15", "end": "2026-09-16"}).outcome == "non_compliant"


def test_a_last_day_in_a_year_no_calendar_covers_is_an_error_naming_it(policies):
    moved, plain = policies
    late = {"kind": "application", "start": "2029-11-30", "end": "2030-03-01"}
    verdict = run(moved, late, as_of="2030-03-01")
    assert verdict.outcome == "undetermined"
    assert finding(verdict, "application").result == "error"
    assert "2030" in finding(verdict, "application").error
    # done by the corresponding day itself: within the limit whatever the calendar says
    early = run(moved, {**late, "end": "2030-02-27"}, as_of="2030-03-01")
    assert early.outcome == "compliant"
    # without the rule no calendar is needed at all
    assert run(plain, late, as_of="2030-03-01").outcome == "non_compliant"
    with pytest.raises(CalendarGap, match="2030"):
        with using(moved.calendar):
            fn.workday_on_or_after("2030-03-02")


def test_the_rule_is_refused_for_working_days_and_minutes(tmp_path):
    broken = POLICY.replace("      unit: minutes\n", "      unit: minutes\n" + HOLIDAY.replace("%", "%%"))
    file = write(tmp_path, policy=broken)
    policy, problems = check_policy(file)
    assert policy is None
    found = [p for p in problems if "last_day_on_holiday" in p.message]
    assert found and found[0].line and "remove last_day_on_holiday" in found[0].hint


def test_the_rules_quote_is_verified(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("%(holiday)s", HOLIDAY.replace("次日为", "次日作为")))
    policy, problems = check_policy(file)
    assert policy is None and [p.code for p in problems] == ["quote_not_found"]


# -- a length the case sets ---------------------------------------------------------------------

def test_a_time_limit_written_in_the_notice(policies):
    moved, _ = policies
    step = {"kind": "rectification", "start": "2026-03-01", "time_limit_days": 15}
    assert run(moved, {**step, "end": "2026-03-16"}).outcome == "compliant"
    late = run(moved, {**step, "end": "2026-03-17"})
    assert late.outcome == "non_compliant"
    assert dict(finding(late, "rectification").values) == {"due": "2026-03-16", "counted": 16}


def test_a_missing_length_makes_the_rule_unknown_and_names_the_fact(policies):
    moved, _ = policies
    verdict = run(moved, {"kind": "rectification", "start": "2026-03-01", "end": "2026-03-02"})
    assert verdict.outcome == "undetermined"
    assert finding(verdict, "rectification").missing_facts == ("step.time_limit_days",)
    assert "step.time_limit_days" in verdict.missing_facts


def test_days_with_a_month_unit_is_located(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("      length: 3\n", "      days: 3\n"))
    policy, problems = check_policy(file)
    assert policy is None
    assert problems[0].code == "schema" and "length: 3" in problems[0].hint and problems[0].line


# -- times of day ------------------------------------------------------------------------------

def test_minutes_and_hours(policies):
    moved, _ = policies
    arrival = {"kind": "arrival", "started_at": "2026-10-01T09:00", "done_at": "2026-10-01T09:30"}
    verdict = run(moved, arrival)
    assert verdict.outcome == "compliant"
    assert dict(finding(verdict, "arrival").values) == {"due": "2026-10-01T09:30:00", "counted": 30}
    late = run(moved, {**arrival, "done_at": "2026-10-01T09:30:01"})
    assert late.outcome == "non_compliant"
    report = {"kind": "report", "started_at": "2026-12-31T23:10:00", "done_at": "2027-01-01T01:10"}
    verdict = run(moved, report, as_of="2027-01-01")
    assert verdict.outcome == "compliant"
    assert dict(finding(verdict, "report").values) == {"due": "2027-01-01T01:10:00", "counted": 2}
    assert run(moved, {**report, "done_at": "2027-01-01T01:11"}, as_of="2027-01-01").outcome == "non_compliant"


def test_time_functions():
    assert fn.minutes_between("2026-10-01T09:00", "2026-10-01T09:30:59") == 30
    assert fn.minutes_between("2026-10-01T09:30:59", "2026-10-01T09:00") == -30
    assert fn.hours_between("2026-10-01T09:00", "2026-10-01T11:59") == 2
    assert fn.hours_between("2026-10-01T11:59", "2026-10-01T09:00") == -2
    assert fn.add_minutes("2024-02-28T23:50", 15) == "2024-02-29T00:05:00"
    assert fn.add_hours("2026-01-01T00:30", -1) == "2025-12-31T23:30:00"
    assert fn.date_of("2026-10-01T09:00:00") == "2026-10-01"
    with pytest.raises(ValueError):
        fn.minutes_between("2026-10-01", "2026-10-01T09:00")  # a day is not a time


BAD_TIMES = [
    ("2026-10-01 09:30", "YYYY-MM-DDTHH:MM"),
    ("2026-10-01T09:30Z", "time zone"),
    ("2026-10-01T09:30+08:00", "time zone"),
    ("2026-10-01T24:00", "00:00 to 23:59:59"),
    ("2026-10-01T09:30:00.5", "YYYY-MM-DDTHH:MM"),
    ("2026-02-30T09:30", "not a day of the calendar"),
    ("2026-10-01", "not a day"),
    ("２０２６-10-01T09:30", "YYYY-MM-DDTHH:MM"),
    (202610010930, "YYYY-MM-DDTHH:MM"),
]


@pytest.mark.parametrize("value, words", BAD_TIMES)
def test_bad_times_are_refused_with_their_path(policies, value, words):
    moved, _ = policies
    with pytest.raises(CaseError) as caught:
        run(moved, {"kind": "arrival", "started_at": value, "done_at": "2026-10-01T09:30"})
    found = caught.value.problems[0]
    assert found.path == "step.started_at" and found.code == "case_invalid"
    assert words in found.message + (found.hint or "")


def test_a_date_rule_reading_a_time_is_a_load_error(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("      to: step.end\n%(holiday)s", "      to: step.done_at\n%(holiday)s"))
    policy, problems = check_policy(file)
    assert policy is None and problems[0].code == "cel_syntax" and "well-typed" in problems[0].message


# -- through the CLI ------------------------------------------------------------------------------

def test_cli_decides_and_refuses(tmp_path):
    write(tmp_path)
    case = tmp_path / "case.yaml"
    base = ["decide", "--policies", str(tmp_path), "--policy", "time-test", "--decision", "deadline",
            "--as-of", "2026-12-31", "--format", "json", str(case)]
    case.write_text("step: {kind: arrival, started_at: 2026-10-01T09:00, done_at: 2026-10-01T09:45}\n", encoding="utf-8")
    result = CliRunner().invoke(main, base)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "non_compliant"
    case.write_text("step: {kind: arrival, started_at: '2026-10-01T09:00+08:00', done_at: 2026-10-01T09:45}\n",
                    encoding="utf-8")
    result = CliRunner().invoke(main, base)
    assert result.exit_code == 4
    assert "step.started_at" in result.output and "time zone" in result.output


def test_case_schema_carries_datetime(tmp_path):
    write(tmp_path)
    result = CliRunner().invoke(main, ["facts", "--policies", str(tmp_path), "--policy", "time-test",
                                       "--format", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    started = schema["properties"]["step"]["properties"]["started_at"]
    assert started["type"] == "string" and "T[0-9]{2}:[0-9]{2}" in started["pattern"]
    assert "without a time zone" in started["description"]


def test_a_minutes_rule_reading_days_is_a_load_error(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("      from: step.started_at\n      to: step.done_at\n    - id: report",
                                                 "      from: step.start\n      to: step.end\n    - id: report"))
    policy, problems = check_policy(file)
    assert policy is None and problems[0].code == "cel_syntax" and "well-typed" in problems[0].message


def test_lengths_are_whole_numbers():
    with pytest.raises(ValueError, match="whole number"):
        fn.add_months("2026-01-31", True)
    with pytest.raises(ValueError, match="whole number"):
        fn.add_minutes("2026-01-31T00:00", 1.5)
    with pytest.raises(ValueError, match="out of range"):
        fn.add_minutes("2026-01-31T00:00", 10 ** 12)


def test_a_time_after_the_date_of_the_question_is_refused_where_bounded(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("step.done_at: {type: datetime,",
                                                 "step.done_at: {type: datetime, not_after: as_of,"))
    policy = load_policy(file)
    step = {"kind": "arrival", "started_at": "2026-10-01T09:00", "done_at": "2026-10-01T23:59:59"}
    assert decide(policy, "deadline", {"step": step}, "2026-10-01").outcome == "non_compliant"  # read, then judged
    with pytest.raises(CaseError) as caught:
        decide(policy, "deadline", {"step": {**step, "done_at": "2026-10-02T00:00"}}, "2026-10-01")
    assert caught.value.problems[0].path == "step.done_at"
    assert "after the date of the question" in caught.value.problems[0].message


@pytest.mark.parametrize("old, new, code, words, offset", [
    ("      length: 3\n", "", "schema", "needs its length", None),
    ("      length: 3\n", "      length: step.kind\n", "cel_syntax", "well-typed", 0),
    ("      length: 3\n", "      length: step.time_limit\n", "unknown_fact", "step.time_limit_days", 0),
    ("      length: 3\n", "      length: 3\n      days: 3\n", "schema", "not both", 0),
])
def test_a_wrong_length_is_located(tmp_path, old, new, code, words, offset):
    text = POLICY.replace(old, new, 1)
    file = write(tmp_path, policy=text)
    policy, problems = check_policy(file)
    assert policy is None
    assert problems[0].code == code and words in problems[0].message + (problems[0].hint or "")
    if offset is not None:
        assert problems[0].line == (text % {"sha": "", "holiday": HOLIDAY}).split("\n").index(new.split("\n")[0]) + 1


def test_days_may_name_a_fact_for_day_units(tmp_path):
    file = write(tmp_path, policy=POLICY.replace("      length: step.time_limit_days\n",
                                                 "      days: step.time_limit_days\n"))
    policy = load_policy(file)
    step = {"kind": "rectification", "start": "2026-03-01", "time_limit_days": 15, "end": "2026-03-17"}
    assert run(policy, step).outcome == "non_compliant"
    assert run(policy, {**step, "time_limit_days": 16}).outcome == "compliant"


def test_batch_csv_reads_times_strictly(tmp_path):
    write(tmp_path)
    rows = tmp_path / "cases.csv"
    rows.write_text("step.kind,step.started_at,step.done_at\n"
                    "arrival,2026-10-01T09:00,2026-10-01T09:20\n"
                    "arrival,2026-10-01T09:00,2026-10-01 09:20\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["decide", "--policies", str(tmp_path), "--policy", "time-test", "--decision",
                                       "deadline", "--as-of", "2026-12-31", "--cases", str(rows)])
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines[0]["outcome"] == "compliant"
    assert lines[1]["error"] == "case_invalid" and "YYYY-MM-DDTHH:MM" in json.dumps(lines[1], ensure_ascii=False)
