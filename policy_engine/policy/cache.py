"""A cache of loaded, verified policies, so one question does not re-verify a regulation.

Loading a policy validates it against the JSON Schema, verifies every quote against the
source text and compiles every condition: about 0.3 s of CPU for one policy, most of a
one-case `decide`. The result depends only on the bytes of the files the load read (the
policy, its vocabularies, source texts and calendar) and on the engine itself, so it is
kept, like Python's own `.pyc` files, in a cache folder the caller names (the command line
uses $POLICY_ENGINE_CACHE, else $XDG_CACHE_HOME/policy-engine, else ~/.cache/policy-engine;
the engine reads no environment itself).

An entry holds the policies of one id (every version file of its folder) and the list of
files the load read, each with the sha256 of its bytes. It is used only when

* the engine is the same: the size and modification time of every module and JSON Schema of
  the package (what Python's own `.pyc` files check), and the versions of Python and of the
  libraries whose behaviour a policy's meaning rests on (the CEL core, chinesecalendar,
  PyYAML, jsonschema), are part of the entry's name;
* the id's version files are the same files (their paths are part of the name too);
* every file the load read still has the same bytes (each is read and hashed again:
  about 1 ms for a policy, its source and its vocabularies);
* the folder is the user's own and not writable by others (entries are pickles, trusted
  as Python trusts its `__pycache__`).

Anything else (no entry, another engine, a changed file, a damaged or unreadable entry, a
folder that cannot be written) is a miss: the policy is loaded and verified from its
files, exactly as without a cache, and the entry rewritten when possible. A policy with
problems is never stored, so every error is reported from the files, every time.
Conditions are stored as their CEL text and compiled again when an entry is read (a few
milliseconds); see `Condition.__reduce__`.
"""
from __future__ import annotations

import copyreg
import hashlib
import os
import pickle
import stat
import sys
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Sequence

from ..textio import ReadFailure, read_bytes, write_atomic

FORMAT = 1  # the layout of an entry; bump to leave older entries unused
ENTRY_LIMIT = 64 << 20  # bytes read of one entry, at most
INPUT_LIMIT = 64 << 20  # bytes read of one input file when it is hashed again


def _proxy(data: dict) -> MappingProxyType:
    return MappingProxyType(data)


# The model freezes its mappings as MappingProxyType, which pickle cannot store by itself.
copyreg.pickle(MappingProxyType, lambda m: (_proxy, (dict(m),)))


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """The sha256 of what a loaded policy's meaning rests on, besides its own files."""
    digest = hashlib.sha256(f"policy-cache {FORMAT}\n{sys.version}\n".encode())
    for module, distribution in (("cel", "common_expression_language"), ("chinese_calendar", "chinesecalendar"),
                                 ("yaml", "PyYAML"), ("jsonschema", "jsonschema")):
        digest.update(f"{distribution} {_installed(module, distribution)}\n".encode())
    package = Path(__file__).resolve().parent.parent
    files = sorted(package.rglob("*.py")) + sorted((package / "schemas").resolve().glob("*.json"))
    for file in files:  # size and modification time, as Python's own .pyc checks its source
        st = file.stat()
        digest.update(f"{file.relative_to(file.parents[1])}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _installed(module: str, distribution: str) -> str:
    """The installed distribution's version, from its .dist-info folder's name beside the module.

    Neither importing the module nor importlib.metadata (0.1 s: it imports the email package)
    is needed for that.
    """
    import importlib.util
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return "-"
    prefix = distribution.lower().replace("-", "_") + "-"
    names = sorted(n for n in _listing(str(Path(spec.origin).resolve().parent.parent))
                   if n.lower().startswith(prefix) and n.endswith(".dist-info"))
    return ",".join(names) or "-"


@lru_cache(maxsize=None)
def _listing(folder: str) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(folder))
    except OSError:
        return ()


class PolicyCache:
    """Loaded policies kept in `folder`, one entry per policy id (see the module's docstring)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def _entry(self, policy_id: str, files: Sequence[Path]) -> Path:
        key = hashlib.sha256("\0".join([engine_fingerprint(), policy_id, *sorted(os.path.realpath(f) for f in files)])
                             .encode()).hexdigest()
        return self.folder / f"{key[:40]}.policies"

    def _trusted(self) -> bool:
        try:
            st = os.stat(self.folder)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022

    def get(self, policy_id: str, files: Sequence[Path]) -> tuple[Any, ...] | None:
        """The policies of `policy_id` stored from exactly these files, or None (a miss)."""
        if not self._trusted():
            return None
        try:
            data = read_bytes(self._entry(policy_id, files), ENTRY_LIMIT)
            stored = pickle.loads(data)
            inputs, policies = stored["inputs"], stored["policies"]
            for path, sha in inputs:
                if hashlib.sha256(read_bytes(path, INPUT_LIMIT)).hexdigest() != sha:
                    return None
        except (ReadFailure, Exception):  # a damaged entry of any kind is a miss, never an error
            return None
        return policies if isinstance(policies, tuple) else None

    def put(self, policy_id: str, files: Sequence[Path], policies: tuple[Any, ...],
            inputs: Sequence[tuple[str, str]]) -> None:
        """Store the policies and the files they rest on; a folder that cannot be written is ignored."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._trusted():
                return
            data = pickle.dumps({"inputs": sorted(set(inputs)), "policies": policies},
                                protocol=pickle.HIGHEST_PROTOCOL)
            write_atomic(self._entry(policy_id, files), data)
        except Exception:  # noqa: BLE001 - a cache that cannot be written is no cache, not a failure
            return


__all__ = ["PolicyCache", "engine_fingerprint"]
