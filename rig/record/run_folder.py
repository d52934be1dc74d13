"""Run folders: each run gets a folder of its own, and `LATEST` names the newest.

`rig run` makes its run folder with `os.mkdir` (never `exist_ok`), and the
run claims a folder by creating its record, results.jsonl, exclusively (`O_EXCL`): two runs
started in the same second with the same `--reports`, or given the same run id, can never
share one; the second gets `<run-id>-2`, then `-3`. `LATEST` holds a folder name written by
the rig (atomically); when it is read it is taken as one name inside the reports folder,
never as a path, so a `LATEST` that says `../elsewhere` or `/etc` is refused instead of followed.
"""

from __future__ import annotations

import os
from pathlib import Path

from rig.record.atomic_files import write_atomic

LATEST = "LATEST"
LATEST_MAX = 4096  # bytes of LATEST: one folder name
#: tries before giving up on a free name (a folder full of same-second runs is a problem)
MAX_SUFFIX = 1000


class RunFolderError(ValueError):
    """No run folder can be made or found where asked (a file, a read-only folder, a bad
    LATEST): the message names the path and why."""


def make_run_dir(base: Path, run_id: str) -> Path:
    """A new, empty folder `base/run_id` (or `-2`, `-3`... when taken), made exclusively;
    RunFolderError when `base` is a file or cannot be written (read-only, no room)."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\0" in run_id:
        raise RunFolderError(f"run id {run_id!r} is not a folder name")
    base = Path(base)
    if base.exists() and not base.is_dir():
        raise RunFolderError(f"{base}: not a folder")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"{base}: cannot make the reports folder: "
                             f"{exc.strerror or exc}") from None
    for n in range(1, MAX_SUFFIX + 1):
        run_dir = base / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            os.mkdir(run_dir)
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunFolderError(f"{base}: cannot make a run folder in it: "
                                 f"{exc.strerror or exc}") from None
        return run_dir
    raise RunFolderError(f"{base}: {MAX_SUFFIX} run folders named {run_id} already")


def claim_run_dir(base: Path, run_id: str, record: str = "results.jsonl") -> Path:
    """The run folder a run's record goes in: `base/run_id` (made if missing: `rig run`
    makes it beforehand, and a `--junitxml` or `--html` inside it may have made it too),
    claimed by creating its record file exclusively; a folder whose record exists belongs
    to another run, and the next name (`-2`, `-3`...) is tried."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\0" in run_id:
        raise RunFolderError(f"run id {run_id!r} is not a folder name")
    base = Path(base)
    for n in range(1, MAX_SUFFIX + 1):
        run_dir = base / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(run_dir / record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunFolderError(f"{run_dir}: cannot make the run's record in it: "
                                 f"{exc.strerror or exc}") from None
        os.close(fd)
        return run_dir
    raise RunFolderError(f"{base}: {MAX_SUFFIX} run folders named {run_id} already")


def write_latest(base: Path, run_dir: Path) -> None:
    """`base/LATEST` names `run_dir` (replaced whole; a LATEST that is a link is replaced,
    its target never written)."""
    write_atomic(Path(base) / LATEST, Path(run_dir).name + "\n")


def latest_run_dir(reports: Path) -> Path:
    """The run folder `reports/LATEST` names: one folder name inside `reports`, or
    RunFolderError."""
    from drivers.bounded_read import InputRefused, read_file

    reports = Path(reports)
    try:  # bounded: a LATEST that is a FIFO or a huge file is refused, never read for ever
        name = read_file(reports / LATEST, LATEST_MAX, what="LATEST").decode("utf-8").strip()
    except (OSError, UnicodeDecodeError, InputRefused) as exc:
        raise RunFolderError(f"{reports / LATEST}: cannot be read ({exc})") from None
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise RunFolderError(f"{reports / LATEST} names {name[:80]!r}, not a run folder "
                             f"inside {reports}")
    run_dir = reports / name
    if run_dir.resolve().parent != reports.resolve():
        raise RunFolderError(f"{reports / LATEST} names {name!r}, which leads outside "
                             f"{reports}")
    return run_dir
