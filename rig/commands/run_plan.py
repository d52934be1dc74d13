"""`rig run`: run the conformance plans and write the report under reports/<run-id>/.

The bench file, the faults and the speed are checked first: a mistake is one line and exit 2,
and nothing is started (no run folder, no emulator). pytest then runs as a child process in a
session of its own, tied to this one: Ctrl-C (from the terminal, or SIGINT sent to this
process alone) and SIGTERM are passed on to it once, and the plugin stops the run cleanly,
with the bench in its safe state and the report written; if this process is killed, the
child gets SIGTERM and does the same (PR_SET_PDEATHSIG). Exit codes: 0 every test judged
passed, 1 a test failed or the run judged nothing (a silent meter, everything skipped), 2 bad
input, 3 an internal error or a child killed outright, 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rig.bench.session import default_run_id

PLANS = Path(__file__).resolve().parent.parent.parent / "testplans"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig run: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    # no abbreviations: the other arguments go to pytest, whose `--co` would otherwise be
    # taken for --coordinator
    parser = _Parser(prog="rig run", allow_abbrev=False,
                     description="Run the conformance plans against a bench (the emulated one "
                                 "by default) and write the report under reports/<run-id>/.",
                     epilog="Other arguments go to pytest (e.g. -k relay, -x, a plan file).")
    parser.add_argument("--bench", metavar="FILE",
                        help="bench TOML (default: the emulated bench)")
    parser.add_argument("--speed", type=float, metavar="N",
                        help="emulated bench clock speed (default: the bench file's)")
    parser.add_argument("--profile", metavar="NAME|FILE",
                        help="meter profile (default: the bench file's); an emulated bench "
                             "serves this profile's meter")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on an emulator fault (repeatable; `rig emulate "
                             "--list-faults` lists them); NAME@K: position K's meter only")
    parser.add_argument("--positions", type=int, metavar="N",
                        help="run the plan on N emulated meters at once, one worker each, "
                             "on one shared AC source; a report per meter and a batch "
                             "summary (rig.bench.positions)")
    parser.add_argument("--keypad", metavar="NAME",
                        help="keypad kind: injector or a relay board (`rig emulate "
                             "--list-keypads`); default: the bench file's")
    parser.add_argument("--answers", metavar="FILE",
                        help="operator answers file for the plans that need a person "
                             "(default on the emulated bench: its own answers; `none`: "
                             "no answers, those steps skip)")
    parser.add_argument("--allow-expired-calibration", action="store_true",
                        help="use instruments past their calibration due date")
    parser.add_argument("--meters", metavar="FILE",
                        help="meters file (CSV, rig.bench.meters_file): the meter's keys and "
                             "lot by the PAN it reports, instead of the bench file's [meter]")
    parser.add_argument("--operator", metavar="NAME",
                        help="who runs the tests, named in the report (default: the bench "
                             "file's [operator])")
    parser.add_argument("--explore", type=float, metavar="BENCH_SECONDS",
                        help="model-based exploration for this much bench time (random event "
                             "sequences against the reference model), and the state matrix "
                             "in every state; off by default")
    for flag, meta, text in RUN_FACTS:  # the run's facts for the report (rig.record)
        parser.add_argument(flag, metavar=meta, help=text)
    parser.add_argument("--place", action="append", default=[], metavar="NAME",
                        help="run on the bench position of this labgrid place: acquired "
                             "through the coordinator, released at the end; repeated, the "
                             "places run at once as positions (rig.bench.labgrid_place)")
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="labgrid coordinator for --place (default: $LG_COORDINATOR, "
                             "else 127.0.0.1:20408)")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where run directories go (default: reports/ in the current "
                             "folder)")
    parser.add_argument("--progress", choices=("auto", "lines", "off"), default="auto",
                        help="run progress: a status line on a terminal, else one line per "
                             "test (auto, the default); one line per test (lines); none (off)")
    return parser


#: per-run facts the report states (ISO/IEC 17025 7.8.2.1 g, h, o; 7.8.3.1 a), passed on to
#: the plugin as --rig-<name>
RUN_FACTS = (
    ("--item-condition", "TEXT", "the item's condition as received, for the report"),
    ("--item-received", "DATE", "the date the item was received (ISO 8601)"),
    ("--temperature", "C", "ambient temperature during the run, °C"),
    ("--humidity", "PCT", "ambient relative humidity during the run, %%"),
    ("--signatory", "NAME[, FUNCTION]", "the authorised signatory named in the report"),
)


def pytest_args(args: argparse.Namespace, extra: list[str], run_dir: Path) -> list[str]:
    """The pytest command line of one run."""
    cmd = ["-p", "no:cacheprovider", "-o", "addopts=", "-rfEs",
           f"--rootdir={PLANS.parent}",
           f"--junitxml={run_dir / 'junit.xml'}",
           f"--rig-report-dir={run_dir.parent}", f"--rig-run-id={run_dir.name}"]
    if args.bench:
        cmd.append(f"--bench={args.bench}")
    if args.speed is not None:
        cmd.append(f"--speed={args.speed:g}")
    cmd += [f"--fault={fault}" for fault in args.fault]
    cmd.append(f"--rig-progress={args.progress}")
    if args.profile:
        cmd.append(f"--profile={args.profile}")
    if args.allow_expired_calibration:
        cmd.append("--allow-expired-calibration")
    if getattr(args, "meters", None):
        cmd.append(f"--meters={Path(args.meters).resolve()}")
    if args.keypad:
        cmd.append(f"--keypad={args.keypad}")
    if args.answers:
        cmd.append(f"--answers={args.answers}" if args.answers == "none"
                   else f"--answers={Path(args.answers).resolve()}")
    for flag, _, _ in RUN_FACTS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value:
            cmd.append(f"--rig-{flag[2:]}={value}")
    if args.operator:
        cmd.append(f"--rig-operator={args.operator}")
    if getattr(args, "explore", None) is not None:
        cmd.append(f"--explore={args.explore:g}")
    if not any(_is_path(a) for a in extra):
        cmd.append(str(PLANS))
    return cmd + extra


def _is_path(arg: str) -> bool:
    """A plan file or node id among pytest's arguments (a long `-k` expression is none: the
    file system refuses a name that long, and that is an answer, not an error)."""
    if arg.startswith("-"):
        return False
    try:
        return "::" in arg or Path(arg.split("::")[0]).exists()
    except (OSError, ValueError):
        return False


def unique_run_dir(base: Path) -> Path:
    """This run's folder, made now and exclusively (rig.record.run_folder): two runs
    started in the same second never share one. RunFolderError when `base` is a file or
    cannot be written."""
    from rig.record.run_folder import make_run_dir

    return make_run_dir(base, default_run_id())


#: the child's environment names the program, so pytest's usage errors say `rig run`
PROG_ENV = "RIG_PROG"

#: pytest's exit codes as `rig run` gives them: the same code for the same kind of problem
#: as every rig command (2 bad input), 1 for a run that failed or judged nothing (or a bench
#: that did not come up), 3 the rig's own failure (internal error, a record or report that
#: could not be written), 130 for a run stopped by Ctrl-C or SIGTERM
EXIT_CODES = {0: 0, 1: 1, 2: 130, 3: 3, 4: 2, 5: 1}
INTERNAL = 3


def check_before_start(args: argparse.Namespace) -> str | None:
    """What is wrong with the bench file, the faults or the speed, before anything starts
    (no run folder, no emulator, no pytest), or None."""
    from emulator.faults import FAULTS
    from rig.bench.config import ConfigError, load_bench

    if args.speed is not None and not args.speed > 0:
        return f"--speed must be a positive number, got {args.speed:g}"
    unknown = [name for name in args.fault if name.partition("@")[0] not in FAULTS]
    if unknown:
        return (f"--fault {unknown[0]}: no such fault (`rig emulate --list-faults` lists "
                f"them: {', '.join(FAULTS)})")
    problem = positions_problem(args)
    if problem:
        return problem
    try:
        config = load_bench(args.bench)
    except (ConfigError, ValueError, OSError) as exc:
        return str(exc)
    if config.meter.pan is None and not (getattr(args, "meters", None)
                                         or getattr(args, "positions", None)):
        return (f"{config.path.name}: [meter] names no pan: give it, or run with --meters "
                "FILE so the meter's PAN is read at bring-up")
    from rig.meter.vendor import VendingKeyError, resolve_vending_key

    reference = config.meter.keys.vending_key
    try:  # a key reference that does not resolve is bad input, found before anything starts
        if reference:
            resolve_vending_key(reference, base=Path(config.path).parent)
    except VendingKeyError as exc:
        return str(exc)
    if args.profile:  # loaded (bounded: meterprofile) before anything starts
        from meterprofile import load_profile

        try:
            load_profile(args.profile)
        except (ValueError, OSError) as exc:
            return f"--profile {args.profile}: {exc}"
    else:  # the bench file's is only read (bounded) here: a plan's plugin (-p) may register
        # a fact source kind it names, which this process does not know
        from rig.commands.input_files import InputFileError, check_profile

        try:
            check_profile(config.meter.profile, f"{config.path.name}: meter.profile",
                          Path(config.path).parent)
        except InputFileError as exc:
            return str(exc)
    for name in ("temperature", "humidity"):
        value = getattr(args, name, None)
        try:
            float(value) if value is not None else None
        except ValueError:
            return f"--{name} must be a number, got {value!r}"
    if getattr(args, "item_received", None):
        import datetime as dt

        try:
            dt.date.fromisoformat(args.item_received)
        except ValueError:
            return f"--item-received must be a date (YYYY-MM-DD), got {args.item_received!r}"
    if getattr(args, "meters", None):
        from rig.bench.meters_file import MetersFileError, load_meters

        try:  # a bad meters file is refused now, before any meter is brought up
            load_meters(args.meters)
        except MetersFileError as exc:
            lines = str(exc).splitlines()
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            return f"--meters: {lines[0]}{more}"
    if args.answers and args.answers != "none" and not Path(args.answers).exists():
        return f"--answers {args.answers}: no such file"
    if args.answers and args.answers != "none":
        from rig.bench.operator_steps import AnswersFile, AnswersFileError

        try:  # a bad answers file is refused now, not at each test's setup
            AnswersFile.load(args.answers)
        except AnswersFileError as exc:
            lines = str(exc).splitlines()
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            return f"--answers {args.answers}: {lines[0]}{more}"
    text_problem = free_text_problem(args)
    if text_problem:
        return text_problem
    if (args.fault or args.speed is not None) and not config.bench.emulated:
        what = "--fault" if args.fault else "--speed"
        return (f"{what} applies to an emulated bench only; {config.path.name} is a real one "
                "(bench.emulated = false)")
    return None


def positions_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with --positions and the `NAME@K` faults (rig.bench.positions), or
    None; the bench must be an emulated one."""
    positions = getattr(args, "positions", None)
    if positions is None:
        at = [name for name in args.fault if "@" in name]
        return f"--fault {at[0]}: NAME@K names a position; give --positions N" if at else None
    from emulator.positions import MAX_POSITIONS, position_faults
    from rig.bench.config import ConfigError, load_bench

    if not 1 <= positions <= MAX_POSITIONS:
        return f"--positions must be from 1 to {MAX_POSITIONS}, got {positions}"
    try:
        position_faults(args.fault, positions)
        emulated = load_bench(args.bench).bench.emulated
    except (ConfigError, ValueError, OSError) as exc:
        return str(exc)
    if not emulated:
        return "--positions serves emulated meters: the bench must be an emulated one"
    return None


def _fact_problem(flag: str, text: str) -> str | None:
    """What is wrong with one run fact as typed (the checks `rig run` makes of the option)."""
    from rig.record.safe_text import control_characters

    if control_characters(text):
        return f"control characters are not allowed in it ({control_characters(text)})"
    if flag in ("--temperature", "--humidity"):
        try:
            float(text)
        except ValueError:
            return f"{flag} must be a number, got {text!r}"
    if flag == "--item-received":
        import datetime as dt

        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return f"--item-received must be a date (YYYY-MM-DD), got {text!r}"
    return None


def ask_run_facts(args: argparse.Namespace, ask: Any = input,
                  say: Any = print, known: tuple[str, ...] = ()) -> None:
    """The operator prompt for the run's facts the command line did not give (item
    condition, date received, ambient, signatory): one question each, Enter leaves it
    unrecorded, a bad answer is said and asked again. `known` names the facts the bench file
    already holds (they are not asked)."""
    say("rig run: the report states these facts of the run (Enter: not recorded)")
    for flag, meta, text in RUN_FACTS:
        name = flag[2:].replace("-", "_")
        if getattr(args, name, None) or name in known:
            continue
        while True:
            try:
                answer = ask(f"  {text.replace('%%', '%')} [{meta}]: ").strip()
            except EOFError:
                return
            problem = _fact_problem(flag, answer) if answer else None
            if problem is None:
                break
            say(f"  {problem}")
        if answer:
            setattr(args, name, answer)


def wants_prompt(args: argparse.Namespace, interactive: bool) -> tuple[bool, tuple[str, ...]]:
    """(whether to ask the operator for the run's facts, the facts the bench file holds):
    asked only at a terminal, on a real bench (the emulated bench has no item to
    describe), for one position, when some fact is missing."""
    if not interactive or getattr(args, "positions", None) or getattr(args, "place", None):
        return False, ()
    from rig.bench.config import ConfigError, load_bench

    try:
        config = load_bench(args.bench)
    except (ConfigError, ValueError, OSError):
        return False, ()
    if config.bench.emulated:
        return False, ()
    env = getattr(config, "environment", None)
    known = tuple(name for name, there in (
        ("temperature", getattr(env, "temperature_c", None)),
        ("humidity", getattr(env, "humidity_pct", None))) if there is not None)
    missing = [flag for flag, _, _ in RUN_FACTS
               if not getattr(args, flag[2:].replace("-", "_"), None)
               and flag[2:].replace("-", "_") not in known]
    return bool(missing), known


def free_text_problem(args: argparse.Namespace) -> str | None:
    """Free text for the report (the operator's name, the item's condition...) with a
    control character in it (an ESC would drive the terminal that shows the report's
    lines), named escaped, or None."""
    from rig.record.safe_text import control_characters

    for flag in ("--operator", *(flag for flag, _, _ in RUN_FACTS)):
        value = getattr(args, flag[2:].replace("-", "_"), None)
        bad = control_characters(value) if isinstance(value, str) else ""
        if bad:
            return f"{flag}: control characters are not allowed in it ({bad})"
    return None


def report_problem(run_dir: Path) -> str | None:
    """What a run left unwritten (the record cut short, report.html or report.pdf not
    written: a full disk, a renderer that failed), or None."""
    if not (run_dir / "results.jsonl").is_file():
        return None
    missing = [name for name in ("report.html", "report.pdf") if not (run_dir / name).is_file()]
    if missing:
        return (f"{' and '.join(missing)} not written (see the line above); "
                f"`rig report {run_dir}` renders {'them' if len(missing) > 1 else 'it'} "
                "from results.jsonl")
    return None


#: `python -m pytest`, but a Ctrl-C passed on while pytest is still starting (before it
#: handles one itself) ends it quietly as stopped, not with a traceback
PYTEST_CHILD = """import runpy, sys
try:
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)
except KeyboardInterrupt:
    print("rig run: stopped before the plan started", file=sys.stderr)
    sys.exit(130)
"""


def run_pytest(args: list[str]) -> int:
    """pytest in a child tied to this process: it dies with it (PR_SET_PDEATHSIG, SIGTERM:
    a clean stop that leaves the bench safe), and in a session of its own, so a Ctrl-C
    reaches it once, passed on from here, whether it came from the terminal or was sent to
    this process alone."""
    from rig.bench.devices import die_with_parent

    env = dict(os.environ, **{PROG_ENV: "rig run"})
    proc = subprocess.Popen([sys.executable, "-c", PYTEST_CHILD, *args], env=env,
                            start_new_session=True, preexec_fn=die_with_parent)

    def forward(signum: int, frame: Any) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def fallback_safe_state(bench_file: str | None) -> str:
    """pytest died without putting a real bench back (it was killed): switch the AC source
    off from here. Returns what was done, in one line."""
    from rig.bench.config import load_bench
    from rig.bench.devices import Bench

    try:
        config = load_bench(bench_file)
    except Exception as exc:  # the run started with this file: a failure here is said, only
        return f"could not read the bench file to put it safe: {exc}"
    if config.bench.emulated or "source" not in config.instruments:
        return "the emulated bench stopped with it"
    bench = Bench(config, allow_expired_calibration=True)
    try:
        bench.instrument("source")
        return "AC source output switched off from rig run"
    except Exception as exc:
        return f"could not reach the AC source to switch it off: {exc}"
    finally:
        bench.close()


def run_summary(run_dir: Path) -> list[str]:
    """What the record's last line says: counts, and why the run stopped or judged nothing."""
    import json

    path = run_dir / "results.jsonl"
    if not path.exists():
        return []
    end = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("kind") == "run_end":
            end = obj
    if end is None:
        return ["the record has no run_end line: the run was cut off (`rig report` renders "
                "what it has)"]
    counts = ", ".join(f"{n} {k}" for k, n in sorted(end.get("counts", {}).items()))
    out = [counts] if counts else []
    if end.get("stopped"):
        out.append(f"stopped by {end['stopped']}")
    if end.get("no_verdict"):
        out.append(f"NO VERDICT: {end['no_verdict']}")
    return out


def closing_verdict(run_dir: Path) -> list[str]:
    """The overall verdict and the stamps, read from the run's record (rig.record)."""
    from rig.record.report_model import RecordError, load, verdict_lines

    try:
        return verdict_lines(load(run_dir))
    except (RecordError, OSError):
        return []


def main(argv: list[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if getattr(args, "place", None):  # a labgrid place: acquired, run on, released
        from rig.bench.labgrid_place import run_on_places

        return run_on_places(args, argv, main, build_parser, worker_args=pytest_args,
                             exit_codes=EXIT_CODES, internal=INTERNAL)
    problem = check_before_start(args)
    if problem:
        print(f"rig run: {problem}", file=sys.stderr)
        return 2
    ask, known = wants_prompt(args, sys.stdin.isatty() and sys.stdout.isatty())
    if ask:  # a real bench at a terminal: the operator gives the facts the report states
        ask_run_facts(args, known=known)
    if getattr(args, "positions", None) is not None:
        from rig.bench.positions import run_positions

        return run_positions(args, extra, worker_args=pytest_args, exit_codes=EXIT_CODES,
                             internal=INTERNAL)
    from rig.record.run_folder import RunFolderError
    from rig.record.safe_text import visible

    base = Path(args.reports).resolve()
    base_made = not base.exists()
    try:
        run_dir = unique_run_dir(base)
    except RunFolderError as exc:
        print(f"rig run: --reports {visible(args.reports)}: {visible(str(exc))}",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    code = run_pytest(pytest_args(args, extra, run_dir))
    if code < 0:  # killed by a signal before it could stop cleanly
        name = signal.Signals(-code).name
        print(f"rig run: pytest was killed by {name}; {fallback_safe_state(args.bench)}",
              file=sys.stderr)
        code = INTERNAL
    result = EXIT_CODES.get(code, code)
    with contextlib.suppress(OSError):
        run_dir.rmdir()  # only when empty: pytest refused its arguments, nothing was run
        if base_made:
            base.rmdir()  # and the reports folder made for it, when it holds nothing else
    problem = report_problem(run_dir)
    if problem:
        print(f"rig run: {problem}", file=sys.stderr)
        if result in (0, 1):
            result = INTERNAL
    summary = run_summary(run_dir)
    if summary and summary[0].startswith("the record has no run_end") and result in (0, 1):
        result = INTERNAL  # pytest ended, yet the record did not: it could not be written
    print(visible(f"rig run: {time.monotonic() - started:.1f} s, exit code {result}"
                  + (f": {'; '.join(summary)}" if summary else "")))
    for line in closing_verdict(run_dir):  # the verdict and stamps, as page 1 has them
        print(f"  {visible(line)}")  # record text: no control character reaches the terminal
    for name, what in (("report.html", "report"), ("report.pdf", "PDF"),
                       ("results.jsonl", "results"), ("junit.xml", "JUnit")):
        path = run_dir / name
        if path.exists():
            print(f"  {what:<8} {path}")
    return result
