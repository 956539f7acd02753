"""Safe YAML reading with positions, for policy files, vocabularies and cases.

- Only plain data: PyYAML's SafeLoader, composed to nodes and built here. An explicit tag
  (`!!int x`, `!!binary ...`, `!foo`) is refused: a document is plain data, its values
  typed by where they stand, never by a tag.
- YAML 1.2 core-schema scalars where YAML 1.1 surprises lawyers: dates stay strings (the
  vocabulary types them); only true/false are booleans (`no`, `on`, `yes` stay strings);
  integers are decimal (`010` is 10), `0o17` octal or `0x1F` hex, never sexagesimal
  (`1:30` is text) and without `_` (`1_000` is text); floats include `.inf` and `.nan`.
- Duplicate keys are an error, not "last one wins".
- Size, nesting depth and alias expansion are bounded: a YAML bomb or a document nested
  thousands deep is refused with a message, and the composer never sees it.
- A `\ud800`-style escape that leaves a lone UTF-16 surrogate (not a character) is refused.
- Every value's position is recorded by its path, so schema errors map to file:line:col.
- A line fold between two CJK characters joins them without a space. YAML folds a line
  break in a folded (`>`), plain or quoted multi-line scalar into a space, which is right
  between words and wrong inside a Chinese sentence (“可考虑 放宽”). Where both characters
  beside a fold are CJK (ideographs, CJK and full-width punctuation, Chinese quotation
  marks), the fold is joined without one; every other fold, line breaks kept by `|`, empty
  lines, and spaces written inside a line stay as YAML reads them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import CaseError, Problem, problem

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000  # nodes visited with aliases expanded
MAX_DEPTH = 100  # nested collections (far above any policy or case: they stay below 15)
SAFE_TO_COMPOSE = 2_000  # the composer recurses: deeper documents are refused before it runs


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's booleans, integers and floats, without timestamps."""


_INT, _FLOAT, _BOOL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"
_CORE_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_CORE_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", _BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# integers before floats: "10" matches both patterns and is an integer
_Loader.add_implicit_resolver(_INT, _CORE_INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, _CORE_FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _core_int(constructor, node) -> int:
    text = node.value
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # "010" is ten: no octal by a leading zero


def _core_float(constructor, node) -> float:
    text = node.value.lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


_Loader.add_constructor(_INT, _core_int)
_Loader.add_constructor(_FLOAT, _core_float)

# The tags a plain document's nodes resolve to; anything else was written as an explicit tag.
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:null", _BOOL, _INT, _FLOAT,
                         "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})
_SURROGATE = re.compile("[\ud800-\udfff]")


# Composing nodes is most of the time spent reading a policy; libyaml's parser composes the
# same nodes (same resolvers, same marks) several times faster. Values are still built from
# the nodes here, by the pure-Python SafeConstructor of _Loader.
if getattr(yaml, "__with_libyaml__", False):
    class _LibyamlComposer(yaml.CSafeLoader):
        """libyaml parser with the resolvers of _Loader."""

    _LibyamlComposer.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    _Composer: type[yaml.CSafeLoader] | type[_Loader] = _LibyamlComposer
else:  # pragma: no cover - PyYAML built without libyaml
    _Composer = _Loader

Path = tuple  # of str | int


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"


@dataclass(frozen=True, slots=True)
class Document:
    data: Any
    marks: dict  # path tuple -> Mark of the value; (path, "key") -> Mark of the mapping key
    file: str | None  # None for text read without a name (a JSON line of a batch given no file)

    def mark(self, path: Path) -> Mark | None:
        path = tuple(path)
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return None
            path = path[:-1]

    def sub(self, key: str) -> "Document":
        """The document under one top-level key, its positions kept (e.g. a golden fixture's case)."""
        marks: dict = {}
        for k, m in self.marks.items():
            if not k:
                continue
            if k[-1] == "key" and isinstance(k[0], tuple):
                if k[0][:1] == (key,):
                    marks[(k[0][1:], "key")] = m
            elif k[:1] == (key,):
                marks[k[1:]] = m
        return Document(self.data[key], marks, self.file)

    def key_mark(self, path: Path) -> Mark | None:
        return self.marks.get((tuple(path), "key")) or self.mark(path)

    def where(self, path: Path, key: bool = False) -> dict:
        """Keyword arguments locating `path` for a Problem."""
        m = self.key_mark(path) if key else self.mark(path)
        out: dict[str, Any] = {"file": self.file, "path": render_path(path)}
        if m is not None:
            out["line"], out["column"] = m.line, m.column
        return out


def render_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


class YamlProblem(Exception):
    def __init__(self, found: Problem):
        self.problem = found
        super().__init__(found.render())


def parse(text: str, file: str) -> Document:
    """Parse one YAML document. Raises YamlProblem with a located Problem."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a str holding a lone surrogate (e.g. decoded with surrogateescape)
        line, column = _position(text, exc.start)
        raise YamlProblem(problem("yaml_syntax", "the text holds a lone UTF-16 surrogate, which is not a character",
                                  file=file, line=line, column=column, hint="save the file as UTF-8")) from None
    if size > MAX_BYTES:
        raise YamlProblem(problem(
            "file_too_large", f"the file is larger than {MAX_BYTES // 1024} KiB", file=file,
            hint="policy and case files are text written by people; split the data or check it is the right file"))
    if "!" in text or _depth_bound(text) > SAFE_TO_COMPOSE:
        _scan(text, file)  # tags and nesting depth, from the parser's events, before composing
    loader = _open(text, file)
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:  # libyaml reads the characters as it parses
        raise YamlProblem(_unreadable(exc, text, file)) from None
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        if _parser_depth_limit(exc):
            raise YamlProblem(_too_deep(file, m)) from None
        raise YamlProblem(problem(
            "yaml_syntax", f"{exc.problem or 'invalid YAML'}" + (f" ({exc.context})" if exc.context else ""),
            file=file, line=m.line + 1 if m else None, column=m.column + 1 if m else None,
            hint=_ESCAPE_HINT if "escape" in str(exc.problem) else
            "check the indentation and that text containing ': ' or '#' is quoted")) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(problem("yaml_syntax", str(exc), file=file)) from None
    except RecursionError:  # the pure-Python composer, on a document the bound let through
        raise YamlProblem(_too_deep(file, None)) from None
    finally:
        loader.dispose()
    if node is None:
        return Document(None, {}, file)
    builder = _Builder(file, "\\" in text, text)
    data = builder.build(node, ())
    return Document(data, builder.marks, file)


_ESCAPE_HINT = ("an escape must name a character: \\uD800 to \\uDFFF are UTF-16 surrogates (halves of a pair), "
                "not characters; "
                "write the character itself, or \\U0001F600 for one outside the BMP")


_CJK = re.compile("[\u2014\u2018\u2019\u201c\u201d\u2026\u2e80-\u303f\u3040-\u30ff\u3100-\u31ff"
                  "\u3200-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")


def join_cjk_folds(value: str, raw: str, style: str | None) -> str:
    """`value` (a scalar as YAML folded it) with each fold between two CJK characters joined without a space.

    `raw` is the scalar's text in the document. The folds are found by folding `raw`'s
    lines again, once with YAML's space and once CJK-aware; where the first does not give
    `value` back exactly (escapes, more-indented lines, anything this reading does not
    follow), `value` is returned unchanged, so the result is never a guess.
    """
    if style == ">":
        header, _, body = raw.partition("\n")
        lines = body.split("\n")
        indents = [len(x) - len(x.lstrip(" ")) for x in lines if x.strip()]
        if not indents:
            return value
        indent = min(indents)
        if any(x.strip() and x[indent:indent + 1] in (" ", "\t") for x in lines):
            return value  # more-indented lines keep their breaks: not followed here
        lines = [x[indent:].rstrip(" \t") if x.strip() else "" for x in lines]
    elif style in (None, "'", '"'):
        if style is not None:
            if style == '"' and "\\" in raw:
                return value
            raw = raw[1:-1]
        lines = [x.strip(" \t") for x in raw.split("\n")]
    else:
        return value
    while lines and not lines[-1]:
        lines.pop()
    plain, joined = _fold(lines, False), _fold(lines, True)
    if style == "'":
        plain, joined = plain.replace("''", "'"), joined.replace("''", "'")
    body = value.rstrip("\n")
    if plain != body or plain == joined:
        return value
    return joined + value[len(body):]


def _fold(lines: list[str], cjk: bool) -> str:
    out, pending, first = "", 0, True
    for line in lines:
        if not line:
            pending += 1
            continue
        if first:
            out, first = line, False
        elif pending:
            out += "\n" * pending + line
        elif cjk and _CJK.match(out[-1]) and _CJK.match(line[0]):
            out += line
        else:
            out += " " + line
        pending = 0
    return out


def _depth_bound(text: str) -> int:
    """An upper bound of the nesting depth, cheap to compute.

    A flow collection opens with [ or { and may hold a one-pair mapping ([a: b]): at most
    two levels per bracket. A block collection starts further right than its parent, or at
    the same column as a sequence under a mapping key, or two columns right on one line
    (- - x): at most two levels per column.
    """
    brackets = text.count("[") + text.count("{")
    widest = max(map(len, text.splitlines()), default=0)
    return 2 * brackets + 2 * widest + 2


def _scan(text: str, file: str) -> None:
    """Refuse explicit tags and nesting deeper than MAX_DEPTH, reading the parser's events only.

    The parser keeps its own stack (no recursion), so this is safe at any depth; syntax
    errors are left to the composer, which reports them with their context.
    """
    loader = _open(text, file)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            tag = getattr(event, "tag", None)
            if tag is not None:
                m = getattr(event, "start_mark", None)
                raise YamlProblem(problem(
                    "yaml_tag", f"explicit tag {tag} is not accepted", file=file, line=m.line + 1 if m else None,
                    column=m.column + 1 if m else None,
                    hint="a document is plain data: remove the tag (text that starts with ! is quoted: '!x')"))
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlProblem(_too_deep(file, event.start_mark))
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if _parser_depth_limit(exc):
            raise YamlProblem(_too_deep(file, exc.problem_mark or exc.context_mark)) from None
        return
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()


def _open(text: str, file: str) -> yaml.CSafeLoader | _Loader:
    """A composer over `text`. The pure-Python reader (PyYAML without libyaml) checks every
    character when it is made: a character YAML does not allow is refused here, located."""
    try:
        return _Composer(text)
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(_unreadable(exc, text, file)) from None


def _unreadable(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow (a control character other than tab and line breaks ...),
    at its first place in `text`: libyaml gives the place in bytes, the pure-Python reader in
    characters, so the place is found again from the character, the same under both."""
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    index = text.find(chr(code))
    line, column = _position(text, index) if index >= 0 else (None, None)
    hint = "remove it" + (f"; inside a double-quoted string it can be written as an escape (\\x{code:02x})"
                          if code <= 0xFF else "")
    return problem("yaml_syntax", f"the character U+{code:04X} is not allowed in YAML, which takes tab, line breaks "
                                  "and printable characters only", file=file, line=line, column=column, hint=hint)


def _parser_depth_limit(exc: yaml.MarkedYAMLError) -> bool:
    """Whether the parser itself refused the nesting (PyYAML 6.0.4 and later stop at 1,000 levels,
    reading ahead of the events, so the refusal can come before the events reach MAX_DEPTH)."""
    return "nesting depth" in str(exc.problem or "")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def check_json_nesting(text: str, file: str | None, code: str, first_line: int = 1, limit: int = MAX_DEPTH,
                       hint: str | None = None) -> None:
    """Refuse JSON text nested deeper than `limit` (CaseError with `code`, located) before
    json.loads, which recurses, reads it; strings are skipped, so brackets in text do not count.
    `first_line` is the file's line of the text's first line (one line of a JSON-lines file)."""
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for found in _JSON_BRACKET.finditer(_JSON_STRING.sub(lambda m: " " * len(m.group()), text)):
        depth += 1 if found.group() in "[{" else -1
        if depth > limit:
            line, column = _position(text, found.start())
            too_deep = _too_deep(file, None)
            raise CaseError([problem(code, f"collections are nested more than {limit} levels deep", file=file,
                                     line=first_line + line - 1, column=column, hint=hint or too_deep.hint)])


def _too_deep(file: str | None, mark) -> Problem:
    return problem("yaml_nesting", f"collections are nested more than {MAX_DEPTH} levels deep", file=file,
                   line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
                   hint="policies and cases nest a few levels; check the brackets, or write the data flatter")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


class _Builder:
    def __init__(self, file: str, escapes: bool = True, text: str | None = None):
        self.file = file
        self.text = text  # the document, to find where a multi-line scalar was folded
        self.marks: dict = {}
        self.budget = MAX_NODES
        self.constructor = _Loader("")
        self.escapes = escapes  # the text has a backslash: a double-quoted escape may make a surrogate

    def _refuse(self, code: str, message: str, node, hint: str | None = None, path: Path | None = None):
        raise YamlProblem(problem(code, message, file=self.file, line=node.start_mark.line + 1,
                                  column=node.start_mark.column + 1, hint=hint,
                                  path=render_path(path) if path else None))

    def _scalar(self, node, path: Path):
        if node.tag not in _PLAIN_TAGS:
            self._refuse("yaml_tag", f"explicit tag {node.tag} is not accepted", node,
                         "a document is plain data: remove the tag (text that starts with ! is quoted: '!x')")
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.constructor.ConstructorError, ValueError) as exc:
            self._refuse("yaml_syntax", str(getattr(exc, "problem", exc)), node)
        if self.escapes and isinstance(value, str) and _SURROGATE.search(value):
            self._refuse("yaml_syntax", "an escape (\\uD800 to \\uDFFF) leaves a lone UTF-16 surrogate, which is "
                                        "not a character", node, "write the character itself, or escape a "
                                        "character outside the BMP as \\U0001F600", path)
        if (self.text is not None and isinstance(value, str) and node.start_mark.line != node.end_mark.line
                and node.style != "|"):
            value = join_cjk_folds(value, self.text[node.start_mark.index:node.end_mark.index], node.style or None)
        return value

    def _mark(self, node, style=None) -> Mark:
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1, style)

    def build(self, node, path: Path, depth: int = 0):
        self.budget -= 1
        if self.budget < 0:
            raise YamlProblem(problem(
                "yaml_alias_bomb", f"the document expands to more than {MAX_NODES} values through aliases (*name)",
                file=self.file, line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                hint="write the values out, or use fewer nested aliases"))
        if isinstance(node, ScalarNode):
            self.marks.setdefault(path, self._mark(node, node.style or None))  # libyaml: "" for plain
            return self._scalar(node, path)
        if depth >= MAX_DEPTH:  # aliases can nest what the text does not
            raise YamlProblem(_too_deep(self.file, node.start_mark))
        if node.tag not in _PLAIN_TAGS:
            self._refuse("yaml_tag", f"explicit tag {node.tag} is not accepted", node,
                         "a document is plain data: remove the tag")
        if isinstance(node, SequenceNode):
            self.marks.setdefault(path, self._mark(node))
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            self.marks.setdefault(path, self._mark(node))
            out: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise YamlProblem(problem(
                        "yaml_syntax", "merge keys (<<) are not accepted", file=self.file,
                        line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1,
                        hint="write the keys out; a merged key is invisible to the reader of the regulation"))
                if not isinstance(key_node, ScalarNode):
                    raise YamlProblem(problem("yaml_syntax", "a mapping key must be a plain value", file=self.file,
                                              line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1))
                key = self._scalar(key_node, path)
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    key = str(key)
                if key in out:
                    first = self.marks.get((path + (key,), "key"))
                    raise YamlProblem(problem(
                        "duplicate_key",
                        f"key '{key}' appears twice in this mapping"
                        + (f" (first at line {first.line})" if first else ""),
                        file=self.file, line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1,
                        path=render_path(path + (key,)),
                        hint="YAML keeps only one of them; merge the two entries or rename one"))
                self.marks[(path + (key,), "key")] = self._mark(key_node)
                out[key] = self.build(value_node, path + (key,), depth + 1)
            return out
        raise YamlProblem(problem("yaml_syntax", f"unsupported YAML node {node.tag}", file=self.file))


def read(path, display: str | None = None) -> Document:
    """Read and parse a file; unreadable or undecodable files are Problems too."""
    display = display or str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(problem("file_unreadable", f"cannot read the file: {exc.strerror or exc}", file=display)) from None
    if len(raw) > MAX_BYTES:
        raise YamlProblem(problem("file_too_large", f"the file is larger than {MAX_BYTES // 1024} KiB", file=display))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlProblem(problem("file_unreadable", f"the file is not UTF-8 (byte {exc.start})", file=display,
                                  hint="save the file as UTF-8")) from None
    return parse(text, display)
