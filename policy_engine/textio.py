"""Bounded reading and atomic writing of files: the one place the library touches file bytes.

- Reading never takes more than `limit + 1` bytes, whatever the file is (a regular file,
  stdin, /dev/zero, a pipe), so an endless input is refused instead of filling memory.
- Text is UTF-8 (a BOM is dropped); a bad byte is reported with its line and column.
- Writing goes to a temporary file in the target's folder, is flushed and fsynced, then
  renamed over the target: a reader sees the old file or the new one, never a torn one,
  and a failed write leaves the old file as it was.

Nothing here imports from the rest of the package except errors.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import OutputError, Problem, problem

STDIN = "-"


class ReadFailure(Exception):
    """A file could not be read as bounded text; `problem` says why and where."""

    def __init__(self, found: Problem):
        self.problem = found
        super().__init__(found.render())


def display_name(source: str | os.PathLike) -> str:
    return "<stdin>" if str(source) == STDIN else str(source)


def _read_at_most(fh: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = fh.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_RECORD: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar("read_record", default=None)


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, str]]]:
    """Within the block, every file `read_bytes` reads is listed as (real path, sha256 of its bytes).

    The policy cache uses it to know which files a loaded policy rests on, whoever read them.
    """
    found: list[tuple[str, str]] = []
    token = _RECORD.set(found)
    try:
        yield found
    finally:
        _RECORD.reset(token)


def read_bytes(source: str | os.PathLike, limit: int, code: str = "file_unreadable",
               what: str = "file", regular_only: bool = False) -> bytes:
    """At most `limit` bytes of a file, or of stdin for "-"; more is a `file_too_large` Problem.

    `regular_only` refuses anything that is not a regular file (a FIFO would block, a
    device would never end) before opening it: for files found by walking a folder.
    """
    name = display_name(source)
    try:
        if str(source) == STDIN:
            data = _read_at_most(sys.stdin.buffer, limit)
        else:
            if regular_only:
                st = os.stat(source)
                if not stat.S_ISREG(st.st_mode):
                    raise ReadFailure(problem(
                        code, f"the {what} is not a regular file (a pipe, device or socket)", file=name,
                        hint="policy folders hold regular files only; remove it or move it elsewhere"))
            with open(source, "rb") as fh:
                data = _read_at_most(fh, limit)
    except ReadFailure:
        raise
    except OSError as exc:
        raise ReadFailure(problem(code, f"cannot read the {what}: {exc.strerror or exc}", file=name)) from None
    if len(data) > limit:
        raise ReadFailure(problem(
            "file_too_large", f"the {what} is larger than {_size(limit)}", file=name,
            hint="check it is the right file; split large inputs (a batch reads one case per line)"))
    record = _RECORD.get()
    if record is not None and str(source) != STDIN:
        record.append((os.path.realpath(source), hashlib.sha256(data).hexdigest()))
    return data


def decode(data: bytes, name: str, code: str = "file_unreadable", what: str = "file") -> str:
    """UTF-8 text (a leading BOM dropped); a bad byte is located by line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise ReadFailure(problem(
            code, f"the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            file=name, line=line, column=column, hint="save the file as UTF-8")) from None


def read_text(source: str | os.PathLike, limit: int, code: str = "file_unreadable", what: str = "file",
              regular_only: bool = False) -> str:
    """`read_bytes` then `decode`."""
    return decode(read_bytes(source, limit, code, what, regular_only), display_name(source), code, what)


def _size(limit: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= scale and limit % scale == 0:
            return f"{limit // scale} {unit}"
    return f"{limit} bytes"


def write_atomic(target: str | os.PathLike, data: bytes | str) -> None:
    """Write `data` to `target` through a temporary file in the same folder, fsynced, then renamed."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            try:
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
            except OSError:
                pass
        os.replace(tmp, path)
        tmp = None
        try:
            dir_fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise OutputError([problem("output_unwritable", f"cannot write the file: {exc.strerror or exc}",
                                   file=str(target), hint="check that the folder exists, is writable and "
                                                          "that the disk has room")]) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
