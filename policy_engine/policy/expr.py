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
import itertools
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cel.cel import Context as CelContext  # the binding's own types (cel ships cel.pyi and py.typed)

from .celcore import cel

from ..errors import Problem, problem
from .compile import CelError, Compiled, compile_python
from .functions import CALLABLES, CEL_GLOBALS, CEL_MEMBERS, FUNCTIONS
from .limits import TOKEN as _OP_TOKEN
from .limits import POLICY, ExpressionLimits, check_expression
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

# The CEL binding logs every failing function call on its `cel` logger (WARNING), which with
# no handler configured reaches stderr through logging's last resort. A failing call is
# already part of the verdict (an error or unknown finding); the library does not write to
# stderr on its own. An application that wants these records sets `propagate` back to True.
_cel_log = logging.getLogger("cel")
_cel_log.addHandler(logging.NullHandler())
_cel_log.propagate = False


@dataclass(frozen=True, slots=True)
class Span:
    """Where an expression sits in its YAML file, to turn expression positions into file positions."""

    file: str | None
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
    # (events fact, kind, field) for every field its events declare: a missing field is named on its own fact
    owners: frozenset[tuple[str, str, str]] = frozenset()
    # the same text as a Python function (compile.py), made on first use; None: the CEL core only
    fast: "Fast | None" = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def __reduce__(self) -> tuple:
        # The compiled CEL program cannot be pickled (policy/cache.py stores loaded policies):
        # a stored condition keeps its text and is compiled again when read.
        return _restore_condition, (self.source, self.compiled, self.facts, self.event_fields)


def _restore_condition(source: str, compiled: str, facts: frozenset[str], event_fields: frozenset[str]) -> Condition:
    return Condition(source, _LazyProgram(compiled), compiled, facts, event_fields, fast=Fast(compiled))


class Fast:
    """A condition's compiled Python function (compile.compile_python), made when first asked for.

    Made lazily, as the CEL program of a stored condition is: a process answering one question
    compiles only the conditions that question reads. `function()` is None where the text leaves
    the subset compile.py translates: the condition is then evaluated by the CEL core.
    """

    __slots__ = ("text", "compiled", "done")

    def __init__(self, text: str) -> None:
        self.text = text
        self.compiled: Compiled | None = None
        self.done = False

    def function(self) -> Any:
        if not self.done:
            self.compiled = compile_python(self.text)
            self.done = True
        return self.compiled.call if self.compiled is not None else None


class _LazyProgram:
    """A stored condition's program, compiled when it is first executed.

    A decision evaluates its conditions together through its plan (evaluate.plan), and one by
    one only when the plan cannot settle a case, so most stored conditions are never compiled
    in a one-question process. The compiled program is the same `cel.compile` gives.
    """

    __slots__ = ("text", "program")

    def __init__(self, text: str) -> None:
        self.text = text
        self.program: Any = None

    def execute(self, context: Any) -> Any:
        if self.program is None:
            self.program = cel.compile(self.text)
        return self.program.execute(context)


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
        kind = _group(m)
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


def compile_condition(source: str, vocabulary: Vocabulary, span: Span,
                      limits: ExpressionLimits = POLICY) -> tuple[Condition | None, list[Problem]]:
    """Compile one condition; return it, or None and the problems found.

    `limits` bounds its size and nesting before the CEL core sees it (limits.POLICY for
    policy files, limits.REQUEST for draw and panel requests).
    """
    problems: list[Problem] = []
    if not isinstance(source, str) or not source.strip():
        return None, [problem("cel_syntax", "the condition is empty", file=span.file, line=span.line,
                              column=span.column, path=span.path)]
    # 0. size and nesting: the CEL core has no guard of its own (limits.py)
    over = check_expression(source, limits)
    if over is not None:
        message, offset, hint = over
        return None, [_at(span, source, min(offset, len(source)), "expression_too_large", message, hint)]
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
    rewritten = linear(rewritten)
    program = cel.compile(rewritten)
    event_fields = frozenset(
        f for name in facts for kind in vocabulary.facts[name].kinds.values() for f in kind.fields
    )
    owners = frozenset(
        (name, kind.name, f) for name in facts for kind in vocabulary.facts[name].kinds.values() for f in kind.fields
    )
    condition = Condition(source, program, rewritten, frozenset(facts), event_fields, owners, Fast(rewritten))

    # 5. try it once on well-typed sample facts
    sample = {vocabulary.facts[name].variable: _sample(vocabulary.facts[name]) for name in facts}
    sample["as_of"] = "2020-06-01"
    try:
        program.execute(cel.Context(variables=sample, functions=functions()))
    except KeyError:
        pass  # an optional event field absent from the sample; not a type error
    except Exception as exc:  # noqa: BLE001 - any failure here is the author's to see
        message = str(exc).split("\n")[0]
        if "Undefined variable" not in message and "EmptyAggregate" not in message:
            # (min/max of a list the sample leaves empty has no value: a case's matter, not a type error)
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
            event[f.name] = {"date": "2020-06-01", "datetime": "2020-06-01T00:00:00", "integer": 0, "boolean": False, "string": "",
                             "enum": f.values[0] if f.values else ""}[f.type]
        events.append(event)
    return events


# -- single-pass map and filter ---------------------------------------------------------------
#
# The CEL core expands `list.map(x, f)` and `list.filter(x, p)` into a fold whose
# accumulator is rebuilt at every step (`acc + [f(x)]`), so both cost O(n^2) in the length
# of the list: 1,000 events took 9.8 s for one exit decision, 4,000 took 160 s. `all` folds
# into a boolean and costs O(n). So the compiled text (never the author's text, which the
# trace shows) turns each map and filter into an `all` whose body hands each kept value to
# Python, which collects them in a list in one pass:
#
#   X.filter(v, P)           ->  _pe_end(K, (_pe_start(K) ? X : []).all(v, (P) ? _pe_put(K, v) : true))
#   X.map(v, F)              ->  _pe_end(K, (_pe_start(K) ? X : []).all(v, _pe_put(K, F)))
#   X.map(v, P, F), and X.filter(v, P).map(v, F)
#                            ->  _pe_end(K, (_pe_start(K) ? X : []).all(v, (P) ? _pe_put(K, F) : true))
#   size(X.filter(v, P))     ->  size(... _pe_put(K, true) ...)  (a count: no element leaves the core)
#
# Values, order and errors are those of the macro: the body runs on every element in order,
# a failing body makes the whole expression fail with the first error (`all` never stops
# early, its body being true), and `_pe_start` (the ternary's condition, evaluated before X)
# empties the list of site K, so a pass left unfinished by an error never leaks into the
# next. Each thread has its own lists (see `_Passes`).

_PASS = frozenset({"map", "filter"})
_SITES = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    start: int
    end: int


def _significant(text: str) -> list[_Tok]:
    return [_Tok(_group(m), m.group(), m.start(), m.end()) for m in _OP_TOKEN.finditer(text)
            if m.lastgroup not in ("space", "comment")]


def _group(m: re.Match[str]) -> str:
    """The name of the group a token of _TOKEN or _OP_TOKEN matched: each of their alternatives is a named group."""
    assert m.lastgroup is not None
    return m.lastgroup


_CLOSE = {")": "(", "]": "[", "}": "{"}
_OPEN = {v: k for k, v in _CLOSE.items()}


def _match(tokens: list[_Tok], i: int, step: int) -> int:
    """Index of the bracket matching tokens[i] (step 1: forward from an opening one), or -1."""
    pair = _OPEN if step == 1 else _CLOSE
    want, depth = pair[tokens[i].text], 0
    j = i
    while 0 <= j < len(tokens):
        t = tokens[j].text
        if t == tokens[i].text:
            depth += 1
        elif t == want:
            depth -= 1
            if depth == 0:
                return j
        j += step
    return -1


def _receiver(tokens: list[_Tok], dot: int) -> int:
    """Index of the first token of the member chain ending before tokens[dot] ('.'), or -1."""
    j = dot - 1
    while j >= 0:
        t = tokens[j]
        if t.text in (")", "]"):
            j = _match(tokens, j, -1)
            if j < 0:
                return -1
            prev = tokens[j - 1] if j > 0 else None
            if prev is not None and (prev.text in (")", "]") or (prev.kind in ("name", "string") and prev.text != "in")):
                j -= 1  # a call or an index: the chain goes on before it
                continue
            return j
        if t.kind in ("name", "string", "number") and t.text != "in":
            if j > 0 and tokens[j - 1].text == ".":
                j -= 2
                continue
            return j
        return -1  # a map or message literal, or no receiver: left as written
    return -1


def _arguments(tokens: list[_Tok], text: str, open_: int, close: int) -> list[str]:
    parts, depth, start = [], 0, tokens[open_].end
    for t in tokens[open_ + 1:close]:
        if t.text in _OPEN:
            depth += 1
        elif t.text in _CLOSE:
            depth -= 1
        elif t.text == "," and depth == 0:
            parts.append(text[start:t.start].strip())
            start = t.end
    parts.append(text[start:tokens[close].start].strip())
    return parts


def _macro(tokens: list[_Tok], text: str, dot: int) -> tuple[int, list[str]] | None:
    """(index of the closing parenthesis, arguments) of the macro call whose '.' is tokens[dot]."""
    if dot + 2 >= len(tokens) or tokens[dot + 2].text != "(":
        return None
    close = _match(tokens, dot + 2, 1)
    if close < 0:
        return None
    return close, _arguments(tokens, text, dot + 2, close)


def linear(text: str) -> str:
    """`text` with every map and filter macro made a single pass (see above)."""
    skipped = 0
    while True:
        tokens = _significant(text)
        sites = [i for i in range(len(tokens) - 2) if tokens[i].text == "." and tokens[i + 1].text in _PASS
                 and tokens[i + 2].text == "("]
        if len(sites) <= skipped:
            return text
        dot = sites[skipped]
        first, call = _receiver(tokens, dot), _macro(tokens, text, dot)
        name = tokens[dot + 1].text
        if first < 0 or call is None:
            skipped += 1
            continue
        close, args = call
        var = args[0]
        if not var.isidentifier() or len(args) not in ((2,) if name == "filter" else (2, 3)):
            skipped += 1
            continue
        k = str(next(_SITES))  # unique in the process: conditions share one program in a plan
        receiver = text[tokens[first].start:tokens[dot].start]
        begin, end = tokens[first].start, tokens[close].end
        keep, value = None, var
        if name == "map":
            keep, value = (args[1], args[2]) if len(args) == 3 else (None, args[1])
        else:
            keep = args[1]
            after = _macro(tokens, text, close + 1) if close + 2 < len(tokens) and tokens[close + 1].text == "." \
                and tokens[close + 2].text == "map" else None
            if after is not None and len(after[1]) == 2 and after[1][0] == var:
                value, end = after[1][1], tokens[after[0]].end  # filter then map: one pass
            elif ((first >= 2 and tokens[first - 1].text == "(" and tokens[first - 2].text == "size"
                   and (first < 3 or tokens[first - 3].text != ".") and close + 1 < len(tokens)
                   and tokens[close + 1].text == ")")
                  or [t.text for t in tokens[close + 1:close + 5]] == [".", "size", "(", ")"]):
                value = "true"  # size(X.filter(v, P)) or X.filter(v, P).size(): only the count is read
        body = f"_pe_put({k}, {value})" if keep is None else f"({keep}) ? _pe_put({k}, {value}) : true"
        text = (text[:begin] + f"_pe_end({k}, (_pe_start({k}) ? {receiver} : []).all({var}, {body}))"
                + text[end:])


class _Passes(threading.local):
    """The lists the single-pass maps and filters collect, by site, for the running thread.

    A CEL evaluation runs on one thread from start to end, and every site's pass starts by
    emptying its list, so one store per thread serves every context.
    """

    def __init__(self) -> None:
        self.lists: dict[int, list] = {}

    def start(self, key: int) -> bool:
        self.lists[key] = []
        return True

    def put(self, key: int, value: Any) -> bool:
        self.lists[key].append(value)
        return True

    def end(self, key: int, _done: bool) -> list:
        return self.lists.pop(key)


_passes = _Passes()
_FUNCTIONS = {**CALLABLES, "_pe_start": _passes.start, "_pe_put": _passes.put, "_pe_end": _passes.end}


def functions() -> dict:
    """The functions a CEL context offers: the policy functions, and the single-pass collectors."""
    return _FUNCTIONS


class Bound:
    """One case's facts as flat variables (and as_of): what compiled conditions read, and, made
    when a condition first needs the CEL core, the core's context over the same variables."""

    __slots__ = ("variables", "_context")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self._context: CelContext | None = None

    @property
    def context(self) -> CelContext:
        if self._context is None:
            self._context = cel.Context(variables=self.variables, functions=functions())
        return self._context


def bind(case: Mapping[str, Any], facts: Mapping[str, Fact], as_of: str) -> Bound:
    """One binding per case: its facts as flat variables, converted once (by the CEL core when it is asked)."""
    variables = {facts[name].variable: value for name, value in case.items()}
    variables["as_of"] = as_of
    return Bound(variables)


# Evaluation results, three-valued: True, False, or an Unknown naming what is missing.
@dataclass(frozen=True, slots=True)
class Unknown:
    missing: tuple[str, ...]  # fact names (or fact[].field for an event field)
    error: str | None = None  # set when nothing is missing: the condition itself failed

    def __bool__(self) -> bool:  # guard against treating unknown as false by accident
        raise TypeError("Unknown has no truth value; use the three-valued helpers")


def evaluate(condition: Condition, context: "CelContext | Bound", present: Mapping[str, Any]) -> Any:
    """Value of `condition` by the CEL core: the CEL value, or Unknown when facts are missing or it fails."""
    if isinstance(context, Bound):
        context = context.context
    try:
        return condition.program.execute(context)
    except KeyError as exc:
        field = str(exc.args[0]) if exc.args else ""
        missing = tuple(sorted(f for f in condition.facts if f not in present))
        if missing:
            return Unknown(missing)
        events = _lacking(condition, present, field)
        if events:
            return Unknown(tuple(f"{e}[].{field}" for e in events))
        return Unknown((), f"missing key {field!r}")
    except Exception as exc:  # noqa: BLE001 - the CEL core raises several types for one cause
        missing = tuple(sorted(f for f in condition.facts if f not in present))
        if missing:
            return Unknown(missing)
        return Unknown((), _clean(str(exc).split("\n")[0]))


def _lacking(condition: Condition, present: Mapping[str, Any], field: str) -> list[str]:
    """The events facts a missing `field` belongs to: those whose events declare it and lack it in this case.

    Only facts whose event kinds declare the field can be meant (a list of strings, or events
    of other facts, has no such field, even when a comprehension over it encloses the one that
    failed); among them, those with an event of a kind declaring the field that does not give it.
    """
    kinds: dict[str, set[str]] = {}
    for fact, kind, name in condition.owners:
        if name == field and isinstance(present.get(fact), list):
            kinds.setdefault(fact, set()).add(kind)
    lacking = [fact for fact in sorted(kinds)
               if any(isinstance(e, Mapping) and e.get("kind") in kinds[fact] and field not in e for e in present[fact])]
    return lacking or sorted(kinds)


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


def evaluate_compiled(condition: Condition, bound: Bound, present: Mapping[str, Any]) -> Any:
    """Value of `condition` by its compiled function (compile.py), the same as `evaluate` gives.

    The function gives the CEL value, or raises CelError where the CEL core fails too: then
    the missing facts make it unknown, as in `evaluate`; with none missing, the core is asked
    for its own error message. A condition the compiler does not translate, or a value it does
    not model (Unsure), is evaluated by the CEL core.
    """
    fast = condition.fast
    call = fast.function() if fast is not None else None
    if call is not None:
        try:
            return call(bound.variables)
        except CelError:
            missing = tuple(sorted(f for f in condition.facts if f not in present))
            if missing:
                return Unknown(missing)
        except Exception:  # noqa: BLE001 - Unsure, or anything unforeseen: the core decides
            pass
    return evaluate(condition, bound, present)
