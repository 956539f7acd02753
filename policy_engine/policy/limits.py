"""Bounds on what reaches the CEL core: the size and nesting of expressions, the size of cases.

The CEL core evaluates an expression by recursion over its syntax tree and has no guard
of its own: an expression of about 12,500 chained operators (`1 + 0 + 0 ...`, 50 KB)
overflows the native stack and kills the process (SIGSEGV) on an 8 MiB main thread, at
about 750 on a 512 KiB thread; its parser refuses more than 96 nested brackets, but uses
about 7 KiB of stack per bracket on the way. So every expression is measured here before
it is compiled, by one function every path calls (`check_expression`, from
`expr.compile_condition`), with a conservative count:

- `operators`: every token that makes a node of the syntax tree (binary and unary
  operators, `?`, member selection `.`, calls and indexes `(` `[`, list and map literals
  `[` `{`, `in`); the tree's depth cannot exceed it, whatever the shape (chains, nested
  brackets, `!!!!`, member and call chains, comprehension macros);
- `depth`: bracket nesting;
- `macros` / `macro_depth`: comprehension macros (`all`, `exists`, `exists_one`, `map`,
  `filter`) in all, and nested in each other's bodies. A macro costs one pass over its
  list; a macro in a macro's body costs the product of both lists, so requests, written
  by whoever asks for a draw, may not nest them.

Cases are bounded too (`check_case_size`): a list may hold at most MAX_LIST_ITEMS values
and a case at most MAX_CASE_VALUES values in all (the YAML reader's node budget), checked
before anything is validated or bound, so a case of a million events is refused at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import CaseError, problem


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    what: str  # "a condition", "a request expression", for messages
    length: int  # characters
    operators: int  # syntax-tree nodes with children, counted from tokens (an upper bound on the depth)
    depth: int  # bracket nesting
    macros: int | None  # comprehension macros in all (None: no bound beyond `operators`)
    macro_depth: int | None  # comprehension macros nested in each other's bodies


# Policy conditions: the largest bundled condition has fewer than 60 operators and 5 levels of brackets.
POLICY = ExpressionLimits("a condition", 8_000, 400, 24, None, None)
# Draw and panel requests (and the requests recorded in receipts): a few filters, one pass over each list.
REQUEST = ExpressionLimits("a request expression", 2_000, 100, 8, 4, 1)

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''(?:.|\n)*?'''|\"\"\"(?:.|\n)*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<space>\s+)
  | (?P<operator>&&|\|\||==|!=|<=|>=|[-+*/%!<>?.:,(\[{)\]}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPENING = {"(": ")", "[": "]", "{": "}"}
_NODE = frozenset({"&&", "||", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "!", "<", ">", "?", ".", "(", "[", "{"})


def check_expression(source: str, limits: ExpressionLimits) -> tuple[str, int, str] | None:
    """None when `source` is within `limits`; otherwise (message, character offset, hint).

    Runs in time linear in the text and never recurses, so it is safe on any input.
    """
    if len(source) > limits.length:
        return (f"{limits.what} has {len(source)} characters; at most {limits.length} are accepted",
                limits.length, "split it into several conditions, or simplify it")
    operators = 0
    brackets: list[tuple[str, bool]] = []  # (closing bracket, opens a macro's arguments)
    macro_open = macros = 0
    previous: list[str] = ["", ""]  # the two significant tokens before this one
    for m in TOKEN.finditer(source):
        kind = m.lastgroup
        if kind in ("space", "comment"):
            continue
        token = m.group()
        if kind == "name" and token == "in":
            operators += 1
        elif kind == "operator":
            if token in _NODE:
                operators += 1
            if token in _OPENING:
                macro = token == "(" and previous[0] in MACROS and previous[1] == "."
                if macro:
                    macros += 1
                    macro_open += 1
                    if limits.macros is not None and macros > limits.macros:
                        return (f"{limits.what} has more than {limits.macros} comprehensions "
                                f"(all, exists, exists_one, map, filter)", m.start(),
                                "each comprehension is a pass over a list; use fewer")
                    if limits.macro_depth is not None and macro_open > limits.macro_depth:
                        return (f"{limits.what} nests comprehensions more than {limits.macro_depth} deep "
                                f"(a comprehension in another's body costs the product of both lists)", m.start(),
                                "write the inner comprehension as a separate condition")
                brackets.append((_OPENING[token], macro))
                if len(brackets) > limits.depth:
                    return (f"{limits.what} nests brackets more than {limits.depth} deep", m.start(),
                            "simplify the expression")
            elif token in (")", "]", "}"):
                if brackets and brackets[-1][0] == token:
                    if brackets.pop()[1]:
                        macro_open -= 1
                # an unbalanced bracket is left for the CEL parser to report
        if operators > limits.operators:
            return (f"{limits.what} has more than {limits.operators} operators, calls and member accesses",
                    m.start(), "split it into several conditions, or simplify it")
        previous = [token, previous[0]]
    return None


# -- cases ------------------------------------------------------------------------------------

MAX_LIST_ITEMS = 10_000  # values in one list (events of one expert, items of a list fact)
MAX_CASE_VALUES = 200_000  # values in one case, containers included (as the YAML reader's node budget)
MAX_CASE_DEPTH = 32  # nesting of mappings and lists


def check_case_size(case: Any, file: str | None = None) -> None:
    """Refuse a case too large to decide (CaseError, code case_invalid, naming the path and the limit).

    For cases given as Python or JSON data as much as YAML: checked before the case is
    validated or bound into CEL, iteratively, and stopping at the first value over a
    bound, so its cost is bounded by the limits, not by the case. The path of a value is
    only spelled out for the message (each value keeps its parent and key), and the plain
    types of parsed JSON and YAML are told apart without the slower abstract-class check.
    """
    if not isinstance(case, (Mapping, list, tuple)):
        return
    seen = 0
    stack: list[tuple[Any, Any, int]] = [(case, None, 0)]  # (value, where: (parent where, key, index?), depth)
    while stack:
        value, where, depth = stack.pop()
        seen += 1
        if seen > MAX_CASE_VALUES:
            raise _too_large(f"the case has more than {MAX_CASE_VALUES} values", _path(where) or "(case)", file)
        if depth > MAX_CASE_DEPTH:
            raise _too_large(f"the case nests mappings and lists more than {MAX_CASE_DEPTH} deep", _path(where), file)
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
            if len(value) > MAX_LIST_ITEMS:
                raise _too_large(f"this mapping has {len(value)} keys; at most {MAX_LIST_ITEMS} are accepted",
                                 _path(where) or "(case)", file)
            for key, item in value.items():
                stack.append((item, (where, key, False), depth + 1))
        elif kind is list or kind is tuple or isinstance(value, (list, tuple)):
            if len(value) > MAX_LIST_ITEMS:
                raise _too_large(f"this list has {len(value)} values; at most {MAX_LIST_ITEMS} are accepted",
                                 _path(where) or "(case)", file)
            for i in range(len(value) - 1, -1, -1):
                stack.append((value[i], (where, i, True), depth + 1))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _path(where: Any) -> str:
    """The path of a value as messages write it (a.b[2].c), from its chain of (parent, key, index?)."""
    parts: list[tuple[Any, bool]] = []
    while where is not None:
        where, key, index = where
        parts.append((key, index))
    path = ""
    for key, index in reversed(parts):
        path = f"{path}[{key}]" if index else (f"{path}.{key}" if path else str(key))
    return path


def _too_large(message: str, path: str, file: str | None) -> CaseError:
    return CaseError([problem("case_invalid", message, file=file, path=path,
                              hint="split the case, or keep only what the decision needs")])
