"""Safe YAML reading with positions, for policy files, vocabularies and cases.

- Only plain data: PyYAML's SafeLoader, composed to nodes and built here, so no tag can
  construct an object.
- YAML 1.2 scalars where YAML 1.1 surprises lawyers: dates stay strings (the vocabulary
  types them), and only true/false are booleans (`no`, `on`, `yes` stay strings).
- Duplicate keys are an error, not "last one wins".
- Size and alias expansion are bounded: a YAML bomb is refused with a message.
- Every value's position is recorded by its path, so schema errors map to file:line:col.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import Problem, problem

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000  # nodes visited with aliases expanded


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and without the timestamp resolver."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


# Composing nodes is most of the time spent reading a policy; libyaml's parser composes the
# same nodes (same resolvers, same marks) several times faster. Values are still built from
# the nodes here, by the pure-Python SafeConstructor of _Loader.
if getattr(yaml, "__with_libyaml__", False):
    class _Composer(yaml.CSafeLoader):
        """libyaml parser with the resolvers of _Loader."""

    _Composer.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
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
    file: str

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
        out = {"file": self.file, "path": render_path(path)}
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
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlProblem(problem(
            "file_too_large", f"the file is larger than {MAX_BYTES // 1024} KiB", file=file,
            hint="policy and case files are text written by people; split the data or check it is the right file"))
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        raise YamlProblem(problem(
            "yaml_syntax", f"{exc.problem or 'invalid YAML'}" + (f" ({exc.context})" if exc.context else ""),
            file=file, line=m.line + 1 if m else None, column=m.column + 1 if m else None,
            hint="check the indentation and that text containing ': ' or '#' is quoted")) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(problem("yaml_syntax", str(exc), file=file)) from None
    finally:
        loader.dispose()
    if node is None:
        return Document(None, {}, file)
    builder = _Builder(file)
    data = builder.build(node, ())
    return Document(data, builder.marks, file)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.marks: dict = {}
        self.budget = MAX_NODES
        self.constructor = _Loader("")

    def _mark(self, node, style=None) -> Mark:
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1, style)

    def build(self, node, path: Path):
        self.budget -= 1
        if self.budget < 0:
            raise YamlProblem(problem(
                "yaml_alias_bomb", f"the document expands to more than {MAX_NODES} values through aliases (*name)",
                file=self.file, line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                hint="write the values out, or use fewer nested aliases"))
        if isinstance(node, ScalarNode):
            self.marks.setdefault(path, self._mark(node, node.style or None))  # libyaml: "" for plain
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.constructor.ConstructorError as exc:
                raise YamlProblem(problem("yaml_syntax", str(exc.problem), file=self.file,
                                          line=node.start_mark.line + 1, column=node.start_mark.column + 1)) from None
        if isinstance(node, SequenceNode):
            self.marks.setdefault(path, self._mark(node))
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
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
                key = self.constructor.construct_object(key_node)
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
                out[key] = self.build(value_node, path + (key,))
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
