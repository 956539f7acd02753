"""The review site (policy_engine/review/site.py, `policy-engine review`): the text article by
article, every quote marked inside its own article, the rules, golden cases, defects, coverage and
a diff beside the articles they rest on; offline, escaped, the same bytes every time.

The coverage and diff documents here are written by hand, key for key as the coverage and diff
contracts give them, so the page is tested against the contracts rather than against whatever the
modules computing them produce today."""
from __future__ import annotations

import json
import shutil
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import main
from policy_engine.policy.registry import Registry
from policy_engine.policy.sources import normalise
from policy_engine.report.render import STRENGTH
from policy_engine.review import site

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
FIXTURES = ROOT / "fixtures"
BUNDLED = sorted(p.name for p in POLICIES.iterdir() if p.is_dir() and not p.name.startswith("_"))
XJ = "xj-iit-expert-pool"
AGE_QUOTE = "年龄一般不超过65周岁"


# -- reading the pages back: which text each <mark> holds, in which article; every link
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "col", "area", "base", "source"}


class Marks(HTMLParser):
    """Collects, per quote id, the texts of the <mark>s carrying it and the article they are in;
    and every href/src, every <script>, and the articles' labels in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.article: str | None = None
        self.in_body = 0
        self.depth = 0
        self.mark: list[str] | None = None
        self.marks: dict[str, list[tuple[str | None, str]]] = {}  # quote id -> [(article, text)]
        self.articles: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.section_depth: int | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.depth += 1
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])
        if tag == "script":
            self.scripts += 1
        if tag == "section" and "article" in (a.get("class") or "").split() and a.get("data-article"):
            self.article = a["data-article"]
            self.articles.append(self.article)
            self.section_depth = self.depth
        if tag == "div" and "body" in (a.get("class") or "").split():
            self.in_body = self.depth
        if tag == "mark" and self.in_body:
            self.mark = (a.get("data-q") or "").split()
            self.text: list[str] = []
        if tag in VOID:
            self.depth -= 1

    def handle_endtag(self, tag):
        if tag == "mark" and self.mark is not None:
            for q in self.mark:
                self.marks.setdefault(q, []).append((self.article, "".join(self.text)))
            self.mark = None
        if tag == "div" and self.in_body == self.depth:
            self.in_body = 0
        if tag == "section" and self.section_depth == self.depth:
            self.article = None
            self.section_depth = None
        self.depth -= 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.mark is not None:
            self.text.append(data)


def read(html: str) -> Marks:
    m = Marks()
    m.feed(html)
    m.close()
    return m


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(POLICIES)


@pytest.fixture(scope="module")
def goldens() -> list[site.Golden]:
    found, problems = site.read_goldens(FIXTURES)
    assert problems == []
    return found


@pytest.fixture(scope="module")
def pages(registry, goldens) -> dict[str, str]:
    return {pid: site.page(registry.versions(pid)[0], goldens, versions=registry.versions(pid)) for pid in BUNDLED}


def _section(html: str, article: str) -> str:
    """The HTML of one article's section."""
    start = html.index(f'data-article="{article}"')
    end = html.find("<section", start)
    return html[start:end if end >= 0 else len(html)]


# -- every article, every quote --------------------------------------------------------------------

@pytest.mark.parametrize("pid", BUNDLED)
def test_every_article_and_appendix_of_the_text_is_on_the_page_in_order(registry, pages, pid):
    policy = registry.versions(pid)[0]
    index = site.policy_source(policy)
    found = read(pages[pid]).articles
    expected = [a.label for a in index.articles] + [f"附表{a.number}" for a in index.appendices]
    assert len(found) == len(expected) == len(index.articles) + len(index.appendices)
    # labels as citations name them: a number the text uses twice carries its occurrence
    assert [re.sub(r"（文中第.个）", "", x) for x in found] == [
        re.sub(r"條", "条", x) if not x.startswith("附") else x for x in expected]
    for art in index.articles:  # the article's own words, line by line
        section = _section(pages[pid], found[index.articles.index(art)])
        plain = re.sub(r"<[^>]+>", "", section)
        for line in art.text.split("\n"):
            assert _unescape(line) in _unescape(plain), (art.label, line)


def _unescape(text: str) -> str:
    import html
    return html.unescape(text)


@pytest.mark.parametrize("pid", BUNDLED)
def test_every_quote_of_the_policy_is_marked_inside_the_article_it_cites(registry, pages, pid):
    policy = registry.versions(pid)[0]
    index = site.policy_source(policy)
    marks = read(pages[pid]).marks
    elements = site.elements(policy)
    assert elements, pid
    for n, e in enumerate(elements, 1):
        assert e.key is not None, (e.id, e.label)  # the bundled policies cite their own texts only
        found = marks.get(f"q{n}")
        assert found, f"{pid}: the quote of {e.id} ({e.label}) is in no <mark>"
        articles = {a for a, _ in found}
        assert articles == {site.article_of(e.label)}, (e.id, e.label, articles)
        text = "".join(t for _, t in found)
        assert normalise(_unescape(text), index.steps) == normalise(e.quote, index.steps), (e.id, e.label)


@pytest.mark.parametrize("pid", BUNDLED)
def test_the_elements_are_every_quote_the_policy_file_holds(registry, pid):
    """The page's walk over the compiled policy misses no quoted passage: each quote of the YAML
    (a rule's, an exception's, a provision's, a step's ...) is one of the elements, or a defect's."""
    import yaml
    policy = registry.versions(pid)[0]
    data = yaml.safe_load(next((POLICIES / pid).glob("*.yaml")).read_text(encoding="utf-8"))
    quotes = []

    def walk(node):
        if isinstance(node, dict):
            if "quote" in node and ("cite" in node or "form" in node):
                quotes.append(node["quote"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    shown = {e.quote for e in site.elements(policy)} | {d.quote for d in policy.defects if d.quote}
    assert quotes and [q for q in quotes if q not in shown] == []


@pytest.mark.parametrize("pid", BUNDLED)
def test_the_pages_name_nothing_outside_the_site(pages, pid):
    parsed = read(pages[pid])
    assert parsed.scripts == 0
    for link in parsed.links:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", link, re.I), link
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", pages[pid].replace("http-equiv", ""), re.I)
    css = (ROOT / "policy_engine" / "review" / "static" / "site.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert "@media print" in css


# -- beside the article: rules, cases, defects ------------------------------------------------------

def test_an_article_shows_its_rule_with_strength_condition_exception_and_facts(pages, registry):
    policy = registry.versions(XJ)[0]
    fifth = _section(pages[XJ], "第五条")
    age = fifth[fifth.index('<span class="rid">age</span>'):]
    age = age[:age.index('<div class="element')] if '<div class="element' in age else age
    assert "年龄" in age and STRENGTH["generally"] in age
    assert "age_at(expert.birth_date, as_of) &lt;= 65" in age  # the condition as written, escaped
    assert policy.vocabulary.facts["expert.birth_date"].description in age
    title = fifth[fifth.index('<span class="rid">title-or-experience</span>'):]
    assert "不受此限" in title and "从事行业管理的高级管理专家除外" in title and "expert.senior_management_expert" in title


def test_the_golden_cases_citing_an_article_are_listed_beside_it_with_outcome_and_description(pages, goldens):
    mine = [g for g in goldens if g.policy == XJ and site.article_of(g.article) == "第五条"]
    assert len(mine) >= 8
    fifth = _section(pages[XJ], "第五条")
    for g in mine:
        assert g.name in fifth and _escape(g.description) in fifth
        assert f"<code>{g.outcome}</code>" in fifth
    assert "符合入库条件" in fifth and "需管理部门审查决定" in fifth  # outcomes in the renderer's words
    other = _section(pages[XJ], "第七条")
    assert not any(g.name in other for g in mine)


def _escape(text: str) -> str:
    import html
    return html.escape(text, quote=True)


def test_a_source_defect_is_shown_beside_its_article_with_its_quote_marked(registry, pages):
    policy = registry.versions(XJ)[0]
    defect = next(d for d in policy.defects if d.quote)
    section = _section(pages[XJ], site.article_of(defect.cite.label))
    assert _escape(defect.defect) in section and _escape(defect.encoded_as) in section
    assert re.search(r'<mark class="[^"]*defect[^"]*" data-q="[^"]*d\d', section)


def test_a_golden_case_of_a_date_outside_every_window_is_shown_under_the_in_force_article(pages, goldens):
    rejected = next(g for g in goldens if g.policy == XJ and g.outcome == "not_in_force")
    assert rejected.name in _section(pages[XJ], "第二十一条")


# -- coverage and diff, as the contracts give them -----------------------------------------------------

def _coverage(policy) -> dict:
    return {
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "articles": [
            {"cite": "第五条", "article": "第五条", "status": "cited", "rules": ["age", "political-quality"],
             "reason": None},
            {"cite": "第五条第（五）项", "article": "第五条", "status": "cited", "rules": ["age"], "reason": None},
            {"cite": "第一条", "article": "第一条", "status": "not_encoded", "rules": [],
             "reason": "立法目的，不产生可判定的规则"},
            {"cite": "第四条", "article": "第四条", "status": "uncovered", "rules": [], "reason": None},
        ],
        "rules": [{"rule": "age", "decision": "entry", "cite": "第五条第（五）项",
                   "seen": {"passed": 5, "failed": 2, "unknown": 1}, "ways": "both"},
                  {"rule": "political-quality", "decision": "entry", "cite": "第五条第（一）项",
                   "seen": {"passed": 30}, "ways": "one"}],
        "totals": {"articles": 4, "cited": 2, "not_encoded": 1, "uncovered": 1,
                   "rules": 2, "both": 1, "one": 1, "never": 0},
    }


def _diff(policy, index) -> dict:
    fifth = next(a for a in index.articles if a.number == 5).text
    return {
        "before": {"id": policy.id, "version": "2023-01-01", "sha256": "0" * 64},
        "after": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "corpus": {"source": "goldens", "cases": 120},
        "outcome_changes": [{
            "rules": [{"rule": "age", "cite": "第五条第（五）项"}],
            "cases": [{"case": "entry/eligible-age-65-day-before-66th-birthday", "decision": "entry",
                       "before": "needs_review", "after": "eligible",
                       "lines": ["outcome: needs_review -> eligible", "age: failed -> passed"]}]}],
        "findings_changes": [{"case": "exit/retain-x", "decision": "exit", "lines": ["age-limit: unknown -> passed"]}],
        "unchanged": 118,
        "errors": [],
        "rules": {"added": [], "removed": ["old-rule"],
                  "changed": [{"rule": "age", "cite": "第五条第（五）项", "fields": ["require"]}]},
        "quotes": [],
        "articles": [
            {"article": "第五条", "change": "changed", "before": fifth.replace("65周岁", "60周岁"), "after": fifth,
             "rules": ["age"]},
            {"article": "第二十二条", "change": "removed", "before": "第二十二条 本办法由<某部门>负责解释。", "after": None,
             "rules": []},
        ],
    }


def test_coverage_is_shown_beside_each_article_and_each_rule(registry, goldens):
    policy = registry.versions(XJ)[0]
    html = site.page(policy, goldens, coverage=[_coverage(policy)])
    fifth = _section(html, "第五条")
    assert "第五条第（五）项" in fifth and site.STATUS["cited"] in fifth
    assert site.WAYS["both"] in fifth and site.WAYS["one"] in fifth
    assert "立法目的，不产生可判定的规则" in _section(html, "第一条")
    assert site.STATUS["uncovered"] in _section(html, "第四条")
    assert "覆盖情况" in html
    # a coverage document about another version is not laid over this one
    other = dict(_coverage(policy), policy={"id": policy.id, "version": "1999-01-01", "sha256": ""})
    assert "覆盖情况" not in site.page(policy, goldens, coverage=other)


def test_a_diff_marks_the_changed_wording_and_lists_changed_verdicts_under_their_article(registry, goldens):
    policy = registry.versions(XJ)[0]
    index = site.policy_source(policy)
    html = site.page(policy, goldens, diff=_diff(policy, index), index=index)
    fifth = _section(html, "第五条")
    wording = fifth[fifth.index('class="wording"'):]
    assert "6<del>0</del><ins>5</ins>周岁" in wording  # 60 -> 65, character by character
    assert "entry/eligible-age-65-day-before-66th-birthday" in fifth and "<del>needs_review</del>" in fifth
    assert "age: failed -&gt; passed" in fifth
    assert "措辞修改" in fifth and "require" in fifth
    assert "entry/eligible-age-65-day-before-66th-birthday" not in _section(html, "第七条")
    assert "exit/retain-x" in html and "old-rule" in html
    removed = html[html.index('data-article="第二十二条"'):]
    assert "删除的条文" in removed and "&lt;某部门&gt;" in removed and "<某部门>" not in html


def test_the_diff_of_another_version_is_not_laid_over_this_one(registry, goldens):
    policy = registry.versions(XJ)[0]
    index = site.policy_source(policy)
    diff = _diff(policy, index)
    diff["after"] = dict(diff["after"], version="1999-01-01")
    assert "措辞修改" not in site.page(policy, goldens, diff=diff, index=index)


# -- bytes, escaping, files ---------------------------------------------------------------------------

def test_the_site_is_the_same_bytes_every_time_and_escapes_what_it_is_given(registry, goldens, tmp_path):
    policy = registry.versions(XJ)[0]
    hostile = site.Golden(name="entry/<script>", policy=XJ, decision="entry", as_of="2026-01-01",
                          article="第五条第（五）项", quote=AGE_QUOTE, description='<img src="x" onerror="alert(1)">',
                          expect="eligible", outcome="eligible", version=policy.version)
    one = site.build_site([policy], [*goldens, hostile], tmp_path / "a")
    two = site.build_site([policy], [*goldens, hostile], tmp_path / "b")
    names = sorted(p.relative_to(tmp_path / "a").as_posix() for p in one)
    assert names == sorted(p.relative_to(tmp_path / "b").as_posix() for p in two)
    assert names == ["index.html", "static/site.css", f"{XJ}/{policy.version}.html"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    html = (tmp_path / "a" / XJ / f"{policy.version}.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;img src=&#34;x&#34; onerror=&#34;alert(1)&#34;&gt;" in html
    assert 'href="../static/site.css"' in html
    index = (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
    assert f'href="{XJ}/{policy.version}.html"' in index and policy.title in index


def test_the_wheel_carries_the_templates_and_the_stylesheet():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["policy_engine"]
    package = ROOT / "policy_engine"
    files = [p.relative_to(package).as_posix() for folder in ("review/templates", "review/static")
             for p in (package / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(f.endswith(".html") for f in files) and any(f.endswith(".css") for f in files)
    for f in files:
        assert any(fnmatch(f, g) for g in globs), f"{f} is not in the package data"
    extras = config["project"]["optional-dependencies"]["test"]
    assert any(x.startswith("selenium") for x in extras)


# -- the command ------------------------------------------------------------------------------------

def _invoke(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


def test_the_command_writes_the_site(tmp_path):
    out = tmp_path / "site"
    r = _invoke("review", "--policy", XJ, "--no-coverage", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output == f"wrote 1 page(s) and the index to {out}: open {out / 'index.html'}\n"
    page = (out / XJ / "2025-04-21.html").read_text(encoding="utf-8")
    assert AGE_QUOTE in page and "eligible-age-65-day-before-66th-birthday" in page
    assert (out / "static" / "site.css").is_file()


def test_the_command_lays_over_coverage_and_a_diff_given_as_json(tmp_path, registry):
    policy = registry.versions(XJ)[0]
    (tmp_path / "coverage.json").write_text(json.dumps([_coverage(policy)], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "diff.json").write_text(json.dumps(_diff(policy, site.policy_source(policy)), ensure_ascii=False),
                                        encoding="utf-8")
    out = tmp_path / "site"
    r = _invoke("review", "--policy", XJ, "--coverage-json", tmp_path / "coverage.json",
                "--diff-json", tmp_path / "diff.json", "-o", out)
    assert r.exit_code == 0, r.output
    page = (out / XJ / "2025-04-21.html").read_text(encoding="utf-8")
    assert "覆盖情况" in page and "措辞修改" in page and "立法目的，不产生可判定的规则" in page


@pytest.mark.parametrize("args, code, words", [
    (("--policy", "no-such-policy", "--no-coverage"), 5, "no policy has the id"),
    (("--against", "2020-01-01", "--no-coverage"), 2, "exactly one --policy"),
    (("--policy", XJ, "--policy", "guiyang-petition-expert-pool", "--against", "x"), 2, "exactly one --policy"),
    (("--policy", XJ, "--against", "1999-01-01", "--no-coverage"), 2, "neither a version of xj-iit-expert-pool"),
])
def test_the_command_refuses_what_it_cannot_do(tmp_path, args, code, words):
    r = CliRunner().invoke(main, ["review", *args, "-o", str(tmp_path / "site")])
    assert r.exit_code == code, r.output
    assert words in r.output


def test_the_command_reports_an_output_folder_it_cannot_create(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    r = CliRunner().invoke(main, ["review", "--policy", XJ, "--no-coverage", "-o", str(tmp_path / "file" / "site")])
    assert r.exit_code == 73, r.output
    assert "output_unwritable" in r.output or "cannot create" in r.output


def test_each_version_has_its_page_linked_from_the_index_and_its_own_golden_cases(tmp_path):
    """A policies folder holding two versions of one policy (the second a revision with 64 for 65)."""
    office = tmp_path / "policies"
    shutil.copytree(POLICIES / "_shared", office / "_shared")
    shutil.copytree(POLICIES / XJ, office / XJ)
    text = (office / XJ / "2025-04-21.yaml").read_text(encoding="utf-8")
    revised = (text.replace('version: "2025-04-21"', 'version: "2027-05-21"')
               .replace('  from: "2025-04-21"\n  until: "2027-05-20"', '  from: "2027-05-21"')
               .replace("age_at(expert.birth_date, as_of) <= 65", "age_at(expert.birth_date, as_of) <= 64"))
    assert revised.count("<= 64") == 1 and 'version: "2027-05-21"' in revised
    (office / XJ / "2027-05-21.yaml").write_text(revised, encoding="utf-8")
    out = tmp_path / "site"
    r = _invoke("review", "--policy", XJ, "--no-coverage", "--policies", office, "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("wrote 2 page(s) and the index")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{XJ}/2025-04-21.html"' in index and f'href="{XJ}/2027-05-21.html"' in index
    old = (out / XJ / "2025-04-21.html").read_text(encoding="utf-8")
    new = (out / XJ / "2027-05-21.html").read_text(encoding="utf-8")
    assert 'href="2027-05-21.html"' in old and 'href="2025-04-21.html"' in new
    assert "age_at(expert.birth_date, as_of) &lt;= 64" in new and "&lt;= 64" not in old
    # the stored verdicts were answered by 2025-04-21: their cases are shown on that page only
    assert "eligible-age-65-day-before-66th-birthday" in old
    assert "eligible-age-65-day-before-66th-birthday" not in new


def test_an_earlier_version_given_as_a_file_that_does_not_load_is_reported_located(tmp_path):
    bad = tmp_path / "xj-iit-expert-pool" / "2020-01-01.yaml"
    bad.parent.mkdir()
    bad.write_text("id: xj-iit-expert-pool\nversion: '2020-01-01'\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["review", "--policy", XJ, "--no-coverage", "--against", str(bad),
                                  "-o", str(tmp_path / "site")])
    assert r.exit_code == 3, r.output
    assert "2020-01-01.yaml:" in r.output and not (tmp_path / "site").exists()


REVISION = Path(__file__).resolve().parent.parent / "examples" / "revision" / XJ / "2027-05-21.yaml"


def test_a_revision_not_among_the_policies_gets_its_page_with_the_diff_laid_over_it(tmp_path):
    """--revision FILE: the draft's page, compared (by the real diff over the goldens) with the
    newest version among the policies; the page names the draft where it is, not where it was staged."""
    out = tmp_path / "site"
    r = _invoke("review", "--revision", REVISION, "--no-coverage", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("wrote 2 page(s) and the index")
    new = (out / XJ / "2027-05-21.html").read_text(encoding="utf-8")
    old = (out / XJ / "2025-04-21.html").read_text(encoding="utf-8")
    assert "与 2025-04-21 版比较" in new and "与 2025-04-21 版比较" not in old
    assert "<del>5</del>" in new and "<ins>0</ins>" in new  # 年龄一般不超过6[5→0]周岁, marked in 第五条
    assert "eligible-age-65-day-before-66th-birthday" in new  # the case whose outcome changed, under its article
    assert "examples/revision/xj-iit-expert-pool/2027-05-21.yaml" in new and "-staged" not in new
    again = tmp_path / "again"
    assert _invoke("review", "--revision", REVISION, "--no-coverage", "-o", again).exit_code == 0
    assert (again / XJ / "2027-05-21.html").read_bytes() == (out / XJ / "2027-05-21.html").read_bytes()


def test_against_an_earlier_policy_file_runs_the_diff(tmp_path):
    """--against FILE: the file (here the revision, so the comparison runs backwards) against the newest version."""
    out = tmp_path / "site"
    r = _invoke("review", "--policy", XJ, "--no-coverage", "--against", REVISION, "-o", out)
    assert r.exit_code == 0, r.output
    page = (out / XJ / "2025-04-21.html").read_text(encoding="utf-8")
    assert "与 2027-05-21 版比较" in page and "<del>0</del>" in page and "<ins>5</ins>" in page


def test_a_revision_of_another_policy_than_the_one_named_is_refused(tmp_path):
    r = CliRunner().invoke(main, ["review", "--revision", str(REVISION), "--policy", "guiyang-petition-expert-pool",
                                  "-o", str(tmp_path / "site")])
    assert r.exit_code == 2, r.output
    assert "--revision is a version of xj-iit-expert-pool" in r.output
