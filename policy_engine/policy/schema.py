"""JSON Schema validation with errors located in the YAML file (file:line:column)."""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .. import resources as _resources
from ..dates import is_date as _is_date_text
from ..errors import Problem, problem
from ..yamlio import Document

if TYPE_CHECKING:  # jsonschema is imported when a schema is first used (0.1 s a process need not pay)
    import jsonschema
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

SCHEMA_DIR: Path = _resources.schema_dir()
SCHEMA_LIMIT = 1 << 20  # 1 MiB: the largest bundled schema is a few dozen KiB


def _read(file: Path) -> dict:
    """A bundled schema, read bounded (a broken installation fails here, not by filling memory)."""
    from ..textio import read_text
    return json.loads(read_text(file, SCHEMA_LIMIT, what="JSON Schema", regular_only=True))
NAMES = ("policy", "vocabulary", "verdict", "fixture", "calendar", "draw-request", "panel-request", "receipt")


@lru_cache(maxsize=None)
def _registry() -> Registry:
    """Every bundled schema under its file name. The schemas have no $id: a $ref such as
    "vocabulary.schema.json#/$defs/facts" is relative to the referring file, so it resolves to
    the sibling file here, as it does for any standard tool reading the files from disk."""
    from referencing import Registry, Resource
    resources = []
    for file in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = _read(file)
        resources.append((file.name, Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def _formats() -> jsonschema.FormatChecker:
    """Draft 2020-12's format checks, with `date` read by dates.is_date (the engine's one date reader)."""
    import jsonschema
    formats = jsonschema.FormatChecker()
    formats.checkers = dict(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
    formats.checkers["date"] = (lambda value: not isinstance(value, str) or _is_date_text(value), ())
    return formats


@lru_cache(maxsize=None)
def validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema
    contents = _read(SCHEMA_DIR / f"{name}.schema.json")
    return jsonschema.Draft202012Validator(
        contents, registry=_registry(), format_checker=_formats())


def check(doc: Document, name: str) -> list[Problem]:
    """Every schema error in the document, located, with a hint where one helps."""
    problems = []
    for error in validator(name).iter_errors(doc.data):
        problems.extend(_explain(doc, error))
    # one problem per place and message
    seen, out = set(), []
    for p in problems:
        key = (p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _explain(doc: Document, error: ValidationError) -> list[Problem]:
    path = tuple(error.absolute_path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        # pick the alternative that got furthest, as jsonschema's best_match does
        from jsonschema.exceptions import best_match
        deepest = best_match(error.context, key=lambda e: -len(e.path))
        if deepest is not None and deepest.validator not in ("type",):
            return _explain(doc, deepest)
        return [problem("schema", f"{_short(error.instance)} is not a valid condition: write a CEL expression "
                                  "in quotes, or a mapping with any_of: or all_of:", **doc.where(path))]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list((error.schema.get("properties") or {}).keys())
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            out.append(problem("schema", f"'{key}' is not a field here", **doc.where(path + (key,), key=True),
                               hint=(f"did you mean '{close[0]}'?" if close else
                                     "fields here: " + ", ".join(allowed))))
        return out
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = doc.where(path)
        return [problem("schema", f"'{missing}' is required here", **where,
                        hint=_REQUIRED_HINTS.get(missing))]
    if error.validator == "enum":
        allowed = [str(v) for v in error.validator_value]
        close = difflib.get_close_matches(str(error.instance), allowed, n=1)
        return [problem("schema", f"{_short(error.instance)} is not allowed here", **doc.where(path),
                        hint=(f"did you mean '{close[0]}'? " if close else "") + "allowed: " + ", ".join(allowed))]
    if error.validator == "pattern":
        return [problem("schema", f"{_short(error.instance)} does not have the required form", **doc.where(path),
                        hint=_PATTERN_HINTS.get(error.validator_value, f"pattern: {error.validator_value}"))]
    if error.validator == "format" and error.validator_value == "date":
        return [problem("schema", f"{_short(error.instance)} is not a date", **doc.where(path),
                        hint="write dates as YYYY-MM-DD, e.g. 2025-04-21")]
    if error.validator == "type" and error.instance is None:
        return [problem("schema", "the value is empty", **doc.where(path),
                        hint="write a value after the colon; inside {...} a comma ends the value, "
                             "so quote text that contains commas: {age: \"age_at(expert.birth_date, as_of)\"}")]
    if error.validator == "propertyNames":
        return [problem("schema", f"{_short(error.instance)} is not a valid name here", **doc.where(path),
                        hint="names are lower_snake_case; inside {...} a comma ends the value, so quote text with commas")]
    if error.validator == "type":
        expected = error.validator_value
        return [problem("schema", f"{_short(error.instance)} should be {_TYPE_WORDS.get(str(expected), expected)}",
                        **doc.where(path),
                        hint="quote dates and versions (\"2025-04-21\") so YAML keeps them as text"
                        if expected == "string" and isinstance(error.instance, (int, float)) else None)]
    return [problem("schema", error.message, **doc.where(path))]


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_WORDS = {"string": "text", "integer": "a whole number", "object": "a mapping (key: value lines)",
               "array": "a list (lines starting with '- ')", "boolean": "true or false"}
_REQUIRED_HINTS = {
    "cite": "every rule names its article: cite: {article: 5, item: 4}",
    "quote": "every rule quotes the article verbatim: quote: 年龄一般不超过65周岁",
    "strength": "strength: mandatory (须/应当), generally (一般/原则上) or discretionary (可以)",
    "require": "an entry criterion says what must hold: require: <CEL condition>",
    "when": "say when it applies: when: <CEL condition>",
    "id": "give the rule a kebab-case id, e.g. id: age-limit",
}
_PATTERN_HINTS = {
    "^[a-z0-9]+(?:-[a-z0-9]+)*$": "use lower-case letters, digits and hyphens (kebab-case), e.g. age-limit",
    "^[0-9a-f]{64}$": "the SHA-256 of the file in lower-case hex (sha256sum source.txt)",
    "^\\d{4}-\\d{2}-\\d{2}(?:\\.\\d+)?$": "the date the version takes effect, quoted: \"2025-04-21\"",
}
