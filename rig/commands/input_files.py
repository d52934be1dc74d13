"""The files a command is given (a bench file, a meter profile, a meter state file), checked
with the rig's one bounded reader before anything loads them.

A FIFO blocks its reader for ever and /dev/zero never ends: either named as `--bench`,
`--profile`, `--state` or a bench file's `[meter] profile` would hang a command or grow it
until memory ran out. drivers.bounded_read.read_file opens without blocking, refuses what is
not a regular file and stops at a size limit, so each such input is bad input (exit 2),
named, before anything starts. A file that does not exist is left to the loader, which says
so in its own words (a state file is then made).
"""

from __future__ import annotations

from pathlib import Path

from drivers.bounded_read import InputRefused, read_file

TEXT_FILE_MAX = 1024 * 1024  # bytes of a bench file, a meter profile or a meter state file


class InputFileError(ValueError):
    """A named input file that is not a regular file of bounded size; says which and why."""


def check_input_file(path: str | Path | None, what: str,
                     max_bytes: int = TEXT_FILE_MAX) -> None:
    """InputFileError when `path` exists and is not a regular file of at most `max_bytes`
    (`what` names it: "--bench", "--state"...); None and a missing file pass."""
    if path is None or str(path) == "":
        return
    try:
        read_file(path, max_bytes, what=what)
    except FileNotFoundError:
        return
    except InputRefused as exc:
        raise InputFileError(str(exc)) from None
    except OSError as exc:
        raise InputFileError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None


def check_profile(name_or_path: str | Path | None, what: str,
                  beside: Path | None = None) -> None:
    """As check_input_file, for a meter profile given by name or by path (a name is a
    packaged profile, never checked here; a reference that resolves to nothing is left to
    the loader)."""
    from meterprofile import profile_path

    if name_or_path is None or str(name_or_path) == "":
        return
    try:
        path = profile_path(name_or_path, beside)
    except (OSError, ValueError):
        return
    check_input_file(path, what)


def check_bench_inputs(bench: str | Path | None, *, profile: str | None = None,
                       state: str | Path | None = None) -> None:
    """The files a bench command reads, in the order it reads them: the bench file, the
    profile it names (or `--profile`), the state file. InputFileError names the first bad
    one."""
    check_input_file(bench, "bench file")
    if profile is None and bench is not None:
        profile, beside = _bench_profile(Path(bench))
        check_profile(profile, "meter profile", beside)
    else:
        check_profile(profile, "--profile")
    check_input_file(state, "--state")


def _bench_profile(bench: Path) -> tuple[str | None, Path]:
    """The `[meter] profile` a bench file names (None when it names none or does not
    load: the bench loader then says why), and the folder it is resolved beside."""
    import tomllib

    try:
        data = tomllib.loads(read_file(bench, TEXT_FILE_MAX, what="bench file")
                             .decode("utf-8"))
    except (OSError, InputRefused, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None, bench.parent
    meter = data.get("meter")
    profile = meter.get("profile") if isinstance(meter, dict) else None
    return (profile if isinstance(profile, str) else None), bench.parent
