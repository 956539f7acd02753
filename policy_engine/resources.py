"""The files the package carries: the bundled policies, the shared vocabularies, the
working-day calendar and the JSON Schemas.

They are package data of `policy_engine` (policy_engine/policies/ and policy_engine/schemas/;
in a checkout these are symbolic links to the top-level policies/ and schemas/ folders), found
through importlib.resources whether the package runs from a checkout, an editable install or
an installed wheel. The loader reads folders and files by path, so each resource is given as a
real filesystem path: importlib.resources.as_file provides one (the package's own file where it
is on disk, which is the case for every supported install).
"""
from __future__ import annotations

import atexit
import contextlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

PACKAGE = "policy_engine"
_files = contextlib.ExitStack()
atexit.register(_files.close)


@lru_cache(maxsize=None)
def path(*parts: str) -> Path:
    """A bundled file or folder as a filesystem path, e.g. path("schemas", "policy.schema.json")."""
    traversable = resources.files(PACKAGE).joinpath(*parts)
    return Path(_files.enter_context(resources.as_file(traversable))).resolve()


def policy_dir() -> Path:
    """The bundled policies: <id>/<version>.yaml beside source.txt, and _shared/."""
    return path("policies")


def schema_dir() -> Path:
    """The JSON Schemas (schemas/*.schema.json)."""
    return path("schemas")


def calendar_file() -> Path:
    """The working-day calendar the engine counts with."""
    return path("policies", "_shared", "cn-workdays.calendar.yaml")
