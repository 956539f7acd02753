"""Conditions: CEL expressions over facts, compiled once at load.

Policy authors write facts by their dotted names (`expert.birth_date`). At load each
expression is scanned (string literals and comments skipped), every name is checked
against the vocabulary, and fact references are rewritten to flat identifiers
(`expert__birth_date`) before compiling. A case is bound as flat variables, which the CEL
core converts several times faster than nested maps, and an absent fact is simply
unbound: the condition then raises, or is absorbed by `||`/`&&` as the CEL spec says,
which is exactly three-valued logic.

Each condition is also run once on well-typed sample facts, so comparing a date with a
number, or calling a function with the wrong arguments, is a load error, not a verdict.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .celcore import cel

from .errors import Problem, problem
from .functions import CALLABLES, CEL_GLOBALS, CEL_MEMBERS, FUNCTIONS
from .vocabulary import Fact, Vocabulary, sample_value

RESERVED = frozenset({"as_of"})
KEYWORDS = frozenset({"true", "false", "null", "in"})

_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''(?:.|\n)*?'''|\"\"\"(?:.|\n)*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<chain>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_CEL_POS = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


@dataclass(frozen=True, slots=True)
class Span:
    """Where an expression sits in its YAML file, to turn expression positions into file positions."""

    file: str
    line: int  # of the YAML scalar
    column: int
    style: str | None  # YAML scalar style
    path: str


@dataclass(frozen=True, slots=True)
class Condition:
    source: str  # as the author wrote it
    program: Any  # cel.Program over flat variables
    compiled: str  # the CEL text compiled (facts as flat variables)
    facts: frozenset[str]  # fact names it reads
    event_fields: frozenset[str]  # event field names it may read (for missing-field reports)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"


@dataclass(frozen=True, slots=True)
class _Ref:
    start: int
    end: int
    chain: str
    call: bool  # followed by "("


def _scan(source: str) -> tuple[list[_Ref], list[tuple[int, str]]]:
    """Identifier chains (not preceded by '.') and string literals, in order."""
    refs: list[_Ref] = []
    strings: list[tuple[int, str]] = []
    prev_sig = ""
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind == "space" or kind == "comment":
            continue
        if kind == "string":
            strings.append((m.start(), m.group()))
        elif kind == "chain" and prev_sig != ".":
            rest = source[m.end():]
            call = rest.lstrip().startswith("(")
            refs.append(_Ref(m.start(), m.end(), m.group(), call))
        prev_sig = m.group()[-1] if kind == "other" else kind
    return refs, strings


def _literal_value(token: str) -> str | None:
    body = token.lstrip("rRbB")
    if body[:3] in ("'''", '"""'):
        return body[3:-3]
    return body[1:-1]


def _position(span: Span, source: str, offset: int) -> tuple[int, int]:
    """File line and column of character `offset` of the expression (1-based)."""
    line_in_expr = source.count("\n", 0, offset)
    col_in_expr = offset - (source.rfind("\n", 0, offset) + 1)
    if span.style in ("|", ">"):
        # block scalar: content starts on the next line, indented; assume 2-space indent
        # relative to the key when we cannot know better
        return span.line + 1 + line_in_expr, span.column + 2 + col_in_expr
    quote = 1 if span.style in ("'", '"') else 0
    if line_in_expr == 0:
        return span.line, span.column + quote + col_in_expr
    return span.line + line_in_expr, col_in_expr + 1


def _at(span: Span, source: str, offset: int, code: str, message: str, hint: str | None = None) -> Problem:
    line, column = _position(span, source, offset)
    return problem(code, message, file=span.file, line=line, column=column, path=span.path, hint=hint)


def compile_condition(source: str, vocabulary: Vocabulary, span: Span) -> tuple[Condition | None, list[Problem]]:
    """Compile one condition; return it, or None and the problems found."""
    problems: list[Problem] = []
    if not isinstance(source, str) or not source.strip():
        return None, [problem("cel_syntax", "the condition is empty", file=span.file, line=span.line,
                              column=span.column, path=span.path)]
    # 1. syntax, on the text as written so positions are the author's
    try:
        cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        text = str(exc)
        m = _CEL_POS.search(text)
        if m:
            line_no, col_no = int(m.group(1)), int(m.group(2))
            lines = source.split("\n")
            offset = sum(len(x) + 1 for x in lines[: line_no - 1]) + col_no - 1
            detail = m.group(3).strip()
            caret = lines[line_no - 1] + "\n" + " " * (col_no - 1) + "^"
            problems.append(_at(span, source, offset, "cel_syntax", f"{detail}\n{caret}",
                                "see README 'Writing conditions' for the CEL syntax policies use"))
        else:
            problems.append(problem("cel_syntax", text.splitlines()[0], file=span.file, line=span.line,
                                    column=span.column, path=span.path))
        return None, problems

    # 2. names
    refs, strings = _scan(source)
    bound = set(_MACRO_VAR.findall(source))
    facts: set[str] = set()
    rewrites: list[tuple[int, int, str]] = []
    for ref in refs:
        parts = ref.chain.split(".")
        root = parts[0]
        if root in KEYWORDS:
            continue
        if ref.call and len(parts) == 1:
            if root not in CALLABLES and root not in CEL_GLOBALS:
                close = difflib.get_close_matches(root, list(CALLABLES) + sorted(CEL_GLOBALS), n=1)
                problems.append(_at(span, source, ref.start, "unknown_function", f"unknown function '{root}'",
                                    f"did you mean '{close[0]}'?" if close else
                                    "functions: " + ", ".join(sorted(FUNCTIONS))))
            continue
        method = None
        if ref.call:
            method = parts[-1]
            parts = parts[:-1]
            if method not in CEL_MEMBERS:
                close = difflib.get_close_matches(method, sorted(CEL_MEMBERS), n=1)
                problems.append(_at(span, source, ref.start + len(".".join(parts)) + 1, "unknown_function",
                                    f"unknown method '.{method}()'",
                                    f"did you mean '.{close[0]}()'?" if close else None))
                continue
        chain = ".".join(parts)
        if root in vocabulary.namespaces:
            if chain in vocabulary.facts:
                if source[:ref.start].rstrip().endswith("has("):
                    problems.append(_at(span, source, ref.start, "unknown_function",
                                        f"has() cannot be used on the fact '{chain}'",
                                        "an absent fact is already unknown: write the condition on its value, "
                                        "and the engine reports the fact as missing"))
                    continue
                facts.add(chain)
                rewrites.append((ref.start, ref.start + len(chain), vocabulary.facts[chain].variable))
                continue
            longer = [f for f in vocabulary.facts if chain.startswith(f + ".")]
            if longer:
                problems.append(_at(span, source, ref.start, "unknown_fact",
                                    f"'{longer[0]}' is a {vocabulary.facts[longer[0]].type} and has no part "
                                    f"'{chain[len(longer[0]) + 1:]}'"))
                continue
            group = vocabulary.group(chain)
            if group:
                problems.append(_at(span, source, ref.start, "unknown_fact",
                                    f"'{chain}' is a group of facts, not a fact",
                                    "name one of: " + ", ".join(group[:6])))
                continue
            close = vocabulary.closest(chain)
            problems.append(_at(span, source, ref.start, "unknown_fact", f"unknown fact '{chain}'",
                                f"did you mean '{close[0]}'?" if close else
                                "declare it under facts: in the policy, or in the shared vocabulary"))
            continue
        if root in RESERVED:
            if len(parts) > 1:
                problems.append(_at(span, source, ref.start, "unknown_identifier", f"'{root}' is a date and has no parts"))
            continue
        if root in bound:
            continue
        candidates = sorted(vocabulary.namespaces | RESERVED) + list(vocabulary.facts)
        close = difflib.get_close_matches(chain, candidates, n=1, cutoff=0.6)
        problems.append(_at(span, source, ref.start, "unknown_identifier", f"unknown name '{chain}'",
                            f"did you mean '{close[0]}'?" if close else
                            "conditions may name facts (" + ", ".join(sorted(vocabulary.namespaces)) + ".*) and as_of"))

    # 3. enum literals: a word compared with an enum fact must be one of its values
    enum_values: set[str] = set()
    for name in facts:
        enum_values |= vocabulary.facts[name].enum_values()
    if enum_values:
        for offset, token in strings:
            value = _literal_value(token)
            if value is not None and re.fullmatch(r"[a-z][a-z0-9_]*", value) and value not in enum_values:
                close = difflib.get_close_matches(value, sorted(enum_values), n=1)
                problems.append(_at(span, source, offset, "unknown_fact",
                                    f"'{value}' is not a value of the facts this condition reads",
                                    f"did you mean '{close[0]}'?" if close else
                                    "values: " + ", ".join(sorted(enum_values))))
    if problems:
        return None, problems

    # 4. rewrite and compile
    rewritten = source
    for start, end, flat in sorted(rewrites, reverse=True):
        rewritten = rewritten[:start] + flat + rewritten[end:]
    program = cel.compile(rewritten)
    event_fields = frozenset(
        f for name in facts for kind in vocabulary.facts[name].kinds.values() for f in kind.fields
    )
    condition = Condition(source, program, rewritten, frozenset(facts), event_fields)

    # 5. try it once on well-typed sample facts
    sample = {vocabulary.facts[name].variable: _sample(vocabulary.facts[name]) for name in facts}
    sample["as_of"] = "2020-06-01"
    try:
        program.execute(cel.Context(variables=sample, functions=CALLABLES))
    except KeyError:
        pass  # an optional event field absent from the sample; not a type error
    except Exception as exc:  # noqa: BLE001 - any failure here is the author's to see
        message = str(exc).split("\n")[0]
        if "Undefined variable" not in message:
            problems.append(problem("cel_syntax", f"the condition fails on well-typed facts: {message}",
                                    file=span.file, line=span.line, column=span.column, path=span.path,
                                    hint="check the types: dates are compared with dates (strings YYYY-MM-DD), "
                                         "numbers with numbers; see `policy-engine facts`"))
            return None, problems
    return condition, problems


def _sample(fact: Fact) -> Any:
    if fact.type != "events":
        return sample_value(fact)
    events = []
    for kind in fact.kinds.values():
        event: dict[str, Any] = {"kind": kind.name, "date": "2020-06-01"}
        for f in kind.fields.values():
            event[f.name] = {"date": "2020-06-01", "integer": 0, "boolean": False, "string": "",
                             "enum": f.values[0] if f.values else ""}[f.type]
        events.append(event)
    return events


def bind(case: Mapping[str, Any], facts: Mapping[str, Fact], as_of: str) -> "cel.Context":
    """One CEL context per case: its facts as flat variables, converted once."""
    variables = {facts[name].variable: value for name, value in case.items()}
    variables["as_of"] = as_of
    return cel.Context(variables=variables, functions=CALLABLES)


# Evaluation results, three-valued: True, False, or an Unknown naming what is missing.
@dataclass(frozen=True, slots=True)
class Unknown:
    missing: tuple[str, ...]  # fact names (or fact[].field for an event field)
    error: str | None = None  # set when nothing is missing: the condition itself failed

    def __bool__(self) -> bool:  # guard against treating unknown as false by accident
        raise TypeError("Unknown has no truth value; use the three-valued helpers")


def evaluate(condition: Condition, context: "cel.Context", present: Mapping[str, Any]) -> Any:
    """Value of `condition`: the CEL value, or Unknown when facts are missing or it fails."""
    try:
        return condition.program.execute(context)
    except KeyError as exc:
        field = str(exc.args[0]) if exc.args else ""
        missing = tuple(sorted(f for f in condition.facts if f not in present))
        if missing:
            return Unknown(missing)
        events = sorted(f for f in condition.facts if present.get(f) is not None and isinstance(present[f], list))
        if field in condition.event_fields and events:
            return Unknown(tuple(f"{e}[].{field}" for e in events))
        return Unknown((), f"missing key {field!r}")
    except Exception as exc:  # noqa: BLE001 - the CEL core raises several types for one cause
        missing = tuple(sorted(f for f in condition.facts if f not in present))
        if missing:
            return Unknown(missing)
        return Unknown((), _clean(str(exc).split("\n")[0]))


def _clean(message: str) -> str:
    """The message a registered function raised, without the CEL binding's wrapping."""
    marker = "Python function call failed: "
    if marker in message:
        message = message.split(marker, 1)[1]
        message = message.replace(" Check function arguments and their types.", "")
        name = message.split(":", 1)
        if len(name) == 2 and name[0].isidentifier():
            message = name[1].strip()
    return message
