"""Files of a run written whole or not at all.

A report is written to a temporary file in the same folder, fsync'd, then renamed over the
old name (`os.replace`, atomic on POSIX): a render or a disk that fails halfway leaves the
previous file (or none), never a half one, and a name that is a symbolic link is replaced
as a link, its target never written. The folder is fsync'd after the rename, so the new name
survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    """The process's umask (read without changing it where /proc tells it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`; when the block ends without an exception it becomes
    `path` (fsync'd first), else it is removed."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:  # mkstemp makes it 0600: a report is as readable as any file written here
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_folder(path.parent)


def write_atomic(path: Path, data: str | bytes, encoding: str = "utf-8") -> None:
    """Write `data` to `path` whole, or leave `path` as it was (and no temporary file)."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    with replaced_on_success(Path(path)) as tmp, open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()


class LineAppender:
    """A file that grows by whole lines only (the run record): each line is appended in
    one go, and a line the disk cannot hold (ENOSPC, EIO) is taken back (the file is cut to
    its length before it), so a reader never meets a torn line in the middle. After such a
    failure nothing more is appended (a record with a hole would mislead), and it is said
    once on stderr. `close` fsyncs, so the record is on the disk when the run ends."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                           0o644)
        self.closed = False
        self.error: str | None = None
        self.lines = 0

    def append(self, text: str) -> bool:
        """Append `text` (one or more whole lines); False when it was not written."""
        if self.closed or self.error is not None:
            return False
        data = text.encode("utf-8")
        before = os.fstat(self._fd).st_size
        try:
            done = 0
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)
            self.error = exc.strerror or str(exc)
            sys.stderr.write(f"rig: cannot write {self.path}: {self.error}; the record ends "
                             f"after line {self.lines}, nothing more is recorded\n")
            return False
        self.lines += text.count("\n")
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            os.fsync(self._fd)
        os.close(self._fd)
