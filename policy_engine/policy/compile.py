"""Conditions compiled to Python functions, with the CEL core's semantics; the CEL core stays the reference.

`compile_python(text)` turns the CEL text of a condition as expr.py compiles it (facts as flat
variables, map and filter made single passes by expr.linear) into a Python function of one
argument, the case's flat variables (`expert__birth_date`, ..., `as_of`), or None when the text
uses a construct this module does not translate; such a condition stays on the CEL core, so
correctness never depends on coverage.

The parser. The CEL binding the engine uses (the `common-expression-language` package, module
`cel.cel`) exposes compile/Context/Program only: no syntax tree. The pure-Python CEL
implementation on PyPI (`cel-python` 0.5.0, module celpy) has a Lark grammar, but it brings
lark, pendulum, jmespath, pyyaml and the native google-re2 as install requirements, for a
grammar of which the policies use a small part, and a parse tree we would still have to walk
into our own nodes. So this module has a small recursive-descent parser of CEL's grammar
(https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax), the subset below; a
text it cannot read is not an error (the CEL core has already accepted it): it stays on the
core.

Subset: literals (decimal int and double, strings without escapes or prefixes, true, false,
null, lists); names; `!` and unary `-`; `* / % + -`; `< <= > >= == != in`; `&&` `||`; `? :`;
member selection and indexing; calls of the policy functions (functions.py, called directly),
`size` (global and member), `exists` and `all` macros, and the single-pass collectors of
expr.linear.

Semantics, as the binding evaluates them (measured, and checked by tests/test_compiled.py):
- int `/` and `%` truncate toward zero; int overflow, division or modulo by zero are errors;
  int and double do not mix in arithmetic (an error) but compare and are equal by value;
- `==` between a bool and a number, or values of different kinds, is false, never an error;
  lists and maps compare element by element with the same rule; `in` uses it;
- `size` of a string counts its UTF-8 bytes (the binding's behaviour);
- `a || b`: true if either side is true, false if both are false, else an error (a side that
  failed or is not a bool is absorbed by a true other side); `&&` likewise with false; the
  right side is not evaluated when the left settles the result;
- `c ? x : y` needs a bool c; `exists`/`all` stop at the first true/false element and fail at
  the first failing or non-bool body, as the binding does.

Where a value falls outside what this module reproduces exactly (a kind of value or an
operation it does not model), the function raises `Unsure` and the caller asks the CEL core.
Where the CEL core certainly fails too (a missing fact, a function that raised, an overflow),
it raises `CelError`: the caller then gives the same Unknown the core path gives (expr.evaluate:
the missing facts, or, when none is missing, the core's own error message, by asking it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .functions import CALLABLES

INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1


class CelError(Exception):
    """The CEL core certainly fails on these values too."""


class Unsure(Exception):
    """A value or operation outside what the compiled form reproduces: ask the CEL core."""


class Unsupported(Exception):
    """A construct the compiler does not translate (at compile time)."""


_MISSING = object()


# -- tokens and syntax tree ---------------------------------------------------------------------

_TOKENS = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<number>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+(?![\w.]))
  | (?P<string>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # lit, name, list, unary, binary, and, or, cond, select, index, call, method
    value: Any = None  # literal value, name, operator, field or function name
    args: tuple = ()


def _tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKENS.match(text, pos)
        if m is None:
            raise Unsupported(f"token at {pos}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            out.append((kind, m.group()))
    out.append(("end", ""))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i][1] if self.tokens[self.i][0] != "string" else "\0"

    def take(self, want: str | None = None) -> tuple[str, str]:
        tok = self.tokens[self.i]
        if want is not None and (tok[1] != want or tok[0] == "string"):
            raise Unsupported(f"expected {want!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        if self.tokens[self.i][0] != "end":
            raise Unsupported("trailing tokens")
        return node

    def expr(self) -> Node:
        node = self.or_()
        if self.peek() == "?":
            self.take()
            yes = self.or_()
            self.take(":")
            no = self.expr()
            return Node("cond", None, (node, yes, no))
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == "||":
            self.take()
            node = Node("or", None, (node, self.and_()))
        return node

    def and_(self) -> Node:
        node = self.relation()
        while self.peek() == "&&":
            self.take()
            node = Node("and", None, (node, self.relation()))
        return node

    def relation(self) -> Node:
        node = self.addition()
        while self.peek() in ("<", "<=", ">", ">=", "==", "!=", "in"):
            op = self.take()[1]
            node = Node("binary", op, (node, self.addition()))
        return node

    def addition(self) -> Node:
        node = self.multiplication()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = Node("binary", op, (node, self.multiplication()))
        return node

    def multiplication(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/", "%"):
            op = self.take()[1]
            node = Node("binary", op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            return Node("unary", "!", (self.unary(),))
        if self.peek() == "-":
            self.take()
            if self.tokens[self.i][0] == "number" and self.tokens[self.i + 1][1] not in (".", "["):
                lit = self.primary()  # -5 is the literal -5 (so the least int is writable)
                return Node("lit", -lit.value)
            return Node("unary", "-", (self.unary(),))
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            p = self.peek()
            if p == ".":
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise Unsupported("member name")
                if self.peek() == "(":
                    node = Node("method", name, (node, *self.arguments()))
                else:
                    node = Node("select", name, (node,))
            elif p == "[":
                self.take()
                index = self.expr()
                self.take("]")
                node = Node("index", None, (node, index))
            else:
                return node

    def arguments(self) -> tuple[Node, ...]:
        self.take("(")
        args: list[Node] = []
        if self.peek() != ")":
            args.append(self.expr())
            while self.peek() == ",":
                self.take()
                args.append(self.expr())
        self.take(")")
        return tuple(args)

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "number":
            value: Any = float(text) if ("." in text or "e" in text or "E" in text) else int(text)
            if isinstance(value, int) and value > INT_MAX + 1:
                raise Unsupported("int literal out of range")
            return Node("lit", value)
        if kind == "string":
            return Node("lit", text[1:-1])
        if kind == "name":
            if text in ("true", "false", "null"):
                return Node("lit", {"true": True, "false": False, "null": None}[text])
            if text == "in":
                raise Unsupported("'in' as a name")
            if self.peek() == "(":
                return Node("call", text, self.arguments())
            return Node("name", text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "[":
            items: list[Node] = []
            if self.peek() != "]":
                items.append(self.expr())
                while self.peek() == ",":
                    self.take()
                    if self.peek() == "]":
                        break
                    items.append(self.expr())
            self.take("]")
            return Node("list", None, tuple(items))
        raise Unsupported(f"{text!r}")


def parse(text: str) -> Node:
    """The syntax tree of `text`; Unsupported where it leaves the subset this module reads."""
    return _Parser(text).parse()


# -- the run-time helpers the generated code calls ------------------------------------------------

def _kind(v: Any) -> str | None:
    t = type(v)
    if t is bool:
        return "bool"
    if t is int or t is float:
        return "num"
    if t is str:
        return "str"
    if v is None:
        return "null"
    if t is list:
        return "list"
    if t is dict:
        return "map"
    return None


def _eq(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int or ta is bool):
        return a == b
    ka, kb = _kind(a), _kind(b)
    if ka is None or kb is None:
        raise Unsure
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    if ka == "map":
        if any(type(k) is not str for k in a) or any(type(k) is not str for k in b):
            raise Unsure
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if ta is not tb and ka == "num":
        _exact(a, b)
    return bool(a == b)


def _exact(a: Any, b: Any) -> None:
    """An int and a double compare exactly only where the int is a double too (the core may convert)."""
    whole = a if type(a) is int else b
    if not -(2 ** 53) <= whole <= 2 ** 53:
        raise Unsure


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _ordered(a: Any, b: Any) -> None:
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int or ta is float or ta is bool):
        return
    if (ta is int or ta is float) and (tb is int or tb is float):
        _exact(a, b)
        return
    raise Unsure


def _lt(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    _ordered(a, b)
    return bool(a >= b)


def _in(a: Any, b: Any) -> bool:
    tb = type(b)
    if tb is list:
        return any(_eq(a, x) for x in b)
    if tb is dict and type(a) is str and all(type(k) is str for k in b):
        return a in b
    raise Unsure


def _int(v: int) -> int:
    if v < INT_MIN or v > INT_MAX:
        raise CelError("overflow")
    return v


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a + b)
        if ta is float or ta is str or ta is list:
            return a + b
    raise Unsure


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a - b)
        if ta is float:
            return a - b
    raise Unsure


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(a * b)
        if ta is float:
            return a * b
    raise Unsure


def _div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb is int:
        if b == 0:
            raise CelError("division by zero")
        q = abs(a) // abs(b)
        return _int(q if (a < 0) == (b < 0) else -q)
    if ta is tb is float and b != 0.0:
        return a / b
    raise Unsure


def _mod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if b == 0:
            raise CelError("modulo by zero")
        if a == INT_MIN and b == -1:
            raise CelError("overflow")
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    raise Unsure


def _not(a: Any) -> bool:
    if a is True:
        return False
    if a is False:
        return True
    raise CelError("no such overload")


def _neg(a: Any) -> Any:
    t = type(a)
    if t is int and a != INT_MIN:
        return -a
    if t is float:
        return -a
    raise Unsure


def _select(v: Any, field: str) -> Any:
    if type(v) is dict:
        try:
            return v[field]
        except KeyError:
            raise CelError(field) from None
    raise Unsure


def _index(v: Any, i: Any) -> Any:
    t = type(v)
    if t is list and type(i) is int:
        if 0 <= i < len(v):
            return v[i]
        raise CelError("index out of bounds")
    if t is dict and type(i) is str and all(type(k) is str for k in v):
        try:
            return v[i]
        except KeyError:
            raise CelError(i) from None
    raise Unsure


def _size(v: Any) -> int:
    t = type(v)
    if t is list or t is dict:
        return len(v)
    if t is str:
        return len(v.encode("utf-8"))  # the binding counts bytes
    raise Unsure


def _call(fn: Callable, *args: Any) -> Any:
    try:
        value = fn(*args)
    except Exception as exc:  # noqa: BLE001 - the CEL core turns any exception of a function into an error
        raise CelError(str(exc)) from None
    if _kind(value) is None or (type(value) is int and not INT_MIN <= value <= INT_MAX):
        raise Unsure  # a value the core would convert: let it
    return value


def _start(store: dict, key: int) -> bool:
    store[key] = []
    return True


def _put(store: dict, key: int, value: Any) -> bool:
    store[key].append(value)
    return True


def _end(store: dict, key: int, _done: Any) -> list:
    return store.pop(key)


_RUNTIME: dict[str, Any] = {
    "_eq": _eq, "_ne": _ne, "_lt": _lt, "_le": _le, "_gt": _gt, "_ge": _ge, "_in": _in,
    "_add": _add, "_sub": _sub, "_mul": _mul, "_div": _div, "_mod": _mod, "_not": _not, "_neg": _neg,
    "_select": _select, "_index": _index, "_size": _size, "_call": _call,
    "_start": _start, "_put": _put, "_end": _end,
    "CelError": CelError, "Unsure": Unsure, "_MISSING": _MISSING,
}
_BINARY = {"==": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "in": "_in",
           "+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_COLLECT = {"_pe_start": ("_start", 1), "_pe_put": ("_put", 2), "_pe_end": ("_end", 2)}


# -- code generation ------------------------------------------------------------------------------

class _Gen:
    """Python statements computing a syntax tree's value; errors are raised as CelError or Unsure."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.count = 0
        self.variables: dict[str, str] = {}  # CEL variable -> Python local holding its value or _MISSING
        self.functions: dict[str, Callable] = {}
        self.collects = False

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def temp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def gen(self, node: Node, scope: dict[str, str]) -> str:
        """An expression that computes `node` after the statements emitted so far."""
        k = node.kind
        if k == "lit":
            if isinstance(node.value, int) and not isinstance(node.value, bool) and not INT_MIN <= node.value <= INT_MAX:
                raise Unsupported("int literal out of range")
            return repr(node.value)
        if k == "name":
            if node.value in scope:
                return scope[node.value]
            local = self.variables.get(node.value)
            if local is None:
                local = self.variables[node.value] = f"v{len(self.variables)}"
            self.emit(f"if {local} is _MISSING: raise CelError({node.value!r})")
            return local
        if k == "list":
            return "[" + "".join(self.hold(a, scope) + ", " for a in node.args) + "]"
        if k == "unary":
            operand = self.hold(node.args[0], scope)
            return f"{'_not' if node.value == '!' else '_neg'}({operand})"
        if k == "binary":
            left = self.hold(node.args[0], scope)
            right = self.hold(node.args[1], scope)
            return f"{_BINARY[node.value]}({left}, {right})"
        if k in ("or", "and"):
            return self.logic(node, scope)
        if k == "cond":
            test = self.hold(node.args[0], scope)
            if node.args[0].kind == "lit":
                test, value = self.temp(), test
                self.emit(f"{test} = {value}")
            out = self.temp()
            self.emit(f"if {test} is True:")
            self.depth += 1
            self.emit(f"{out} = {self.gen(node.args[1], scope)}")
            self.depth -= 1
            self.emit(f"elif {test} is False:")
            self.depth += 1
            self.emit(f"{out} = {self.gen(node.args[2], scope)}")
            self.depth -= 1
            self.emit("else: raise CelError('no such overload')")
            return out
        if k == "select":
            return f"_select({self.hold(node.args[0], scope)}, {node.value!r})"
        if k == "index":
            return f"_index({self.hold(node.args[0], scope)}, {self.hold(node.args[1], scope)})"
        if k == "call":
            return self.call(node, scope)
        if k == "method":
            return self.method(node, scope)
        raise Unsupported(k)

    def hold(self, node: Node, scope: dict[str, str]) -> str:
        """`node`'s value in a local, so that the operands of an operation are computed in order."""
        if node.kind == "lit" or (node.kind == "name" and node.value in scope):
            return self.gen(node, scope)
        value = self.gen(node, scope)
        if re.fullmatch(r"[tv]\d+", value):
            return value
        out = self.temp()
        self.emit(f"{out} = {value}")
        return out

    def logic(self, node: Node, scope: dict[str, str]) -> str:
        settles = "True" if node.kind == "or" else "False"
        other = "False" if node.kind == "or" else "True"
        out, a, b = self.temp(), self.temp(), self.temp()
        self.guarded(node.args[0], scope, a)
        self.emit(f"if {a} is {settles}: {out} = {settles}")
        self.emit("else:")
        self.depth += 1
        self.guarded(node.args[1], scope, b)
        self.emit(f"if {b} is {settles}: {out} = {settles}")
        self.emit(f"elif {a} is {other} and {b} is {other}: {out} = {other}")
        self.emit(f"elif {a} is Unsure or {b} is Unsure: raise Unsure")
        self.emit("else: raise CelError('no such overload')")
        self.depth -= 1
        return out

    def guarded(self, node: Node, scope: dict[str, str], out: str) -> None:
        """`out` = the value of `node`, or CelError / Unsure (the classes) where it fails."""
        self.emit("try:")
        self.depth += 1
        self.emit(f"{out} = {self.gen(node, scope)}")
        self.depth -= 1
        self.emit(f"except CelError: {out} = CelError")
        self.emit(f"except Unsure: {out} = Unsure")

    def call(self, node: Node, scope: dict[str, str]) -> str:
        name = node.value
        if name in _COLLECT:
            helper, arity = _COLLECT[name]
            if len(node.args) != arity or node.args[0].kind != "lit" or type(node.args[0].value) is not int:
                raise Unsupported(name)
            self.collects = True
            rest = [self.hold(a, scope) for a in node.args[1:]]
            return f"{helper}(S, {', '.join([repr(node.args[0].value), *rest])})"
        if name == "size" and len(node.args) == 1:
            return f"_size({self.hold(node.args[0], scope)})"
        fn = CALLABLES.get(name)
        if fn is None:
            raise Unsupported(f"function {name}")
        self.functions[name] = fn
        args = [self.hold(a, scope) for a in node.args]
        return f"_call(f_{name}{''.join(', ' + a for a in args)})"

    def method(self, node: Node, scope: dict[str, str]) -> str:
        name, target, args = node.value, node.args[0], node.args[1:]
        if name == "size" and not args:
            return f"_size({self.hold(target, scope)})"
        if name not in ("exists", "all") or len(args) != 2 or args[0].kind != "name":
            raise Unsupported(f"method {name}")
        items = self.hold(target, scope)
        out, var, body = self.temp(), self.temp(), self.temp()
        settles = "True" if name == "exists" else "False"
        self.emit(f"if type({items}) is not list: raise Unsure")
        self.emit(f"{out} = {'False' if name == 'exists' else 'True'}")
        self.emit(f"for {var} in {items}:")
        self.depth += 1
        inner = dict(scope)
        inner[args[0].value] = var
        self.emit(f"{body} = {self.gen(args[1], inner)}")
        self.emit(f"if {body} is {settles}:")
        self.emit(f"    {out} = {settles}")
        self.emit("    break")
        self.emit(f"if {body} is not {'False' if name == 'exists' else 'True'}: raise CelError('no such overload')")
        self.depth -= 1
        return out


@dataclass(frozen=True, slots=True)
class Compiled:
    """A condition's Python function: `call(variables)` -> the CEL value, or raises CelError / Unsure."""

    call: Callable[[dict], Any]
    code: str  # the generated Python, for reading
    reads: tuple[str, ...] = ()  # the variables the function reads (it reads nothing else of the case)


def compile_python(text: str) -> Compiled | None:
    """The Python function of CEL `text` (flat variables), or None where it leaves the subset."""
    try:
        tree = parse(text)
        gen = _Gen()
        result = gen.gen(tree, {})
    except (Unsupported, RecursionError):
        return None
    head = [f"    {local} = V.get({name!r}, _MISSING)" for name, local in gen.variables.items()]
    if gen.collects:
        head.append("    S = {}")
    code = "def condition(V):\n" + "\n".join(head + gen.lines + [f"    return {result}"]) + "\n"
    # The code is generated from the parsed tree only: variable names go in as repr() strings, literals
    # as repr() values, every other name is one the generator made; field access is a dict lookup
    # (_select), never getattr. Defence in depth: the function sees the runtime above and the policy's
    # functions, and of the builtins only type and list (tests/test_compiled.py pins both).
    namespace: dict[str, Any] = dict(_RUNTIME, __builtins__={"type": type, "list": list})
    namespace.update({f"f_{name}": fn for name, fn in gen.functions.items()})
    try:
        exec(compile(code, "<condition>", "exec"), namespace)  # noqa: S102 - code generated above from a parsed tree
    except (SyntaxError, RecursionError, MemoryError):
        return None
    return Compiled(namespace["condition"], code, tuple(sorted(gen.variables)))
