"""`rig run --positions N`: the plan on N emulated meters at once, one worker per position.

One emulator process serves the N positions (`rig emulate --positions N`: one bench clock,
one shared AC source fed to each position through its own supply switch; emulator/positions.py
says how a voltage change is coordinated). Each position's plan runs in a pytest worker of
its own, exactly as `rig run` runs one meter: its emulator start only attaches to its
position (STS_EMULATOR_ATTACH), so a worker drives that position's devices and no other. The
meters are not bench configuration: each worker reads its meter's PAN at bring-up and takes
its keys from a meters file (the one given with --meters, or one written for the emulated
lot into the batch folder; it holds no key). Every position writes its own run folder and
report; the batch folder gets the batch summary (rig.record.batch_report).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.bench.config import BenchConfig, MeterKeys


@dataclass
class PositionRun:
    """One position's worker: what it tests, where it writes, how it ended."""

    position: int
    pan: str
    meter_number: str
    faults: tuple[str, ...]
    run_dir: Path
    log_path: Path
    endpoints: dict[str, Any]
    code: int | None = None  # pytest's exit status (negative: killed by that signal)
    seconds: float = 0.0


def faults_of(position: int, names: Sequence[str]) -> tuple[str, ...]:
    """The faults position `position` gets of `--fault NAME` / `NAME@K`."""
    out = []
    for item in names:
        name, at, where = item.partition("@")
        if not at or where == str(position):
            out.append(name)
    return tuple(dict.fromkeys(out))


def write_meters_file(path: Path, runs: Sequence[PositionRun], keys: MeterKeys,
                      lot: str) -> Path:
    """A meters file (rig.bench.meters_file) for the emulated lot: one lot row with the
    bench file's key data, and one row per position's meter naming its lot. No key in it."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["meter_number", "pan", "lot", "sgc", "ti", "krn", "kt", "ken",
                      "base_date", "dkga", "ea"])
        out.writerow(["", "", lot, keys.sgc, keys.ti, keys.krn, keys.kt, keys.ken,
                      keys.base_date, keys.dkga, keys.ea])
        for run in runs:
            out.writerow([run.meter_number, "", lot, *[""] * 8])
    return path


def start_emulator(config: BenchConfig, positions: int, *, speed: float,
                   faults: Sequence[str], profile: str | None) -> Any:
    """The positions bench's emulator (rig.bench.devices.EmulatorProcess), started; its
    endpoints hold `positions`, one entry each."""
    from rig.bench.devices import EmulatorProcess

    if profile:
        config = dataclasses.replace(config, meter=dataclasses.replace(config.meter,
                                                                       profile=profile))
    return EmulatorProcess(config, speed=speed, faults=faults,
                           extra_args=("--positions", str(positions)))


def run_workers(runs: Sequence[PositionRun], command: Callable[[PositionRun], list[str]],
                on_done: Callable[[PositionRun], None]) -> None:
    """Every position's pytest at once, each tied to this process (it dies with it) in a
    session of its own; Ctrl-C and SIGTERM here are passed on to each once, so each stops
    cleanly and writes its report. Fills each run's `code` and `seconds`."""
    from emulator.emulated_bench import ATTACH_ENV
    from rig.bench.devices import die_with_parent

    procs: dict[int, tuple[PositionRun, subprocess.Popen, Any, float]] = {}

    stopping: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        stopping.append(signum)  # no worker starts after it
        for _, proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward)  # before the first worker starts
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        for run in runs:
            if stopping:
                break
            env = dict(os.environ, RIG_PROG="rig run")
            if run.endpoints:  # an emulated position: its worker attaches to it alone
                env[ATTACH_ENV] = json.dumps(run.endpoints)
            log = run.log_path.open("w", encoding="utf-8")
            proc = subprocess.Popen([sys.executable, "-m", "pytest", *command(run)], env=env,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent)
            procs[run.position] = (run, proc, log, time.monotonic())
        waiting = dict(procs)
        while waiting:
            for k, (run, proc, log, started) in list(waiting.items()):
                if proc.poll() is None:
                    continue
                run.code, run.seconds = proc.returncode, time.monotonic() - started
                log.close()
                del waiting[k]
                on_done(run)
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for _, proc, log, _ in procs.values():
            if proc.poll() is None:  # an exception here: none is left driving the bench
                proc.terminate()
                proc.wait()
            log.close()


#: a position's verdict line on the console keeps this much of the reason (the report has it
#: whole)
REASON_CHARS = 90


def position_verdict(run_dir: Path, stopped: bool = False) -> str:
    """The overall verdict of one position's run, as its report's page 1 gives it, the
    reason cut to REASON_CHARS; `stopped`: the worker was stopped by a signal."""
    from rig.record.report_model import RecordError, load, verdict_lines

    try:
        lines = verdict_lines(load(run_dir))
    except (RecordError, OSError):
        if not (run_dir / "results.jsonl").exists() and stopped:
            return "NOT CONCLUDED (stopped before its run started)"
        return "NO REPORT (the run wrote no readable record)"
    text = lines[0].removeprefix("overall verdict: ") if lines else "NO REPORT"
    verdict, _, reason = text.partition(" (")
    if len(reason) > REASON_CHARS:
        reason = reason[:REASON_CHARS].rstrip() + "...)"
    return f"{verdict} ({reason}" if reason else verdict


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def worker_exit(run: PositionRun, exit_codes: dict[int, int], internal: int) -> int:
    """One position's exit status as `rig run` gives it: 130 for a worker stopped before it
    began, or killed by the stop signal passed on to it before pytest could catch it (early
    in its start); the rig's own failure for any other death."""
    if run.code is None:
        return 130 if not run.log_path.exists() else internal
    if run.code < 0:
        return 130 if -run.code in STOP_SIGNALS else internal
    return exit_codes.get(run.code, run.code)


def combined_exit(codes: Sequence[int]) -> int:
    """One exit status for all positions: the gravest of theirs (130 stopped, 3 the rig's
    own failure, 2 bad input, 1 a position failed or judged nothing, 0 all passed)."""
    for code in (130, 3, 2, 1):
        if code in codes:
            return code
    return max(codes, default=0)


def run_positions(args: Any, extra: list[str], *,
                  worker_args: Callable[[Any, list[str], Path], list[str]],
                  exit_codes: dict[int, int], internal: int) -> int:
    """`rig run --positions N` (args as rig.commands.run_plan parses them): start the
    positions bench, run one worker per position, write the batch summary, index every run;
    returns the exit status. `worker_args(args, extra, run_dir)` is one run's pytest line."""
    import datetime as dt

    from rig.bench.config import load_bench
    from rig.bench.devices import BenchError, default_speed
    from rig.record.run_folder import RunFolderError, make_run_dir
    from rig.record.safe_text import visible

    config = load_bench(args.bench)
    base = Path(args.reports).resolve()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    faults = list(args.fault) or list(config.bench.faults)
    started = time.monotonic()
    try:
        batch_dir = make_run_dir(base, f"{stamp}-batch")
    except RunFolderError as exc:
        print(f"rig run: --reports {visible(args.reports)}: {visible(str(exc))}",
              file=sys.stderr)
        return 2
    try:
        emulator = start_emulator(config, args.positions,
                                  speed=args.speed or default_speed(config), faults=faults,
                                  profile=args.profile)
    except BenchError as exc:
        print(f"rig run: the positions bench did not start: {visible(str(exc))}",
              file=sys.stderr)
        return 1
    try:
        runs = []
        for endpoints in emulator.endpoints["positions"]:
            k = int(endpoints["position"])
            mine = faults_of(k, faults)
            run_id = f"{stamp}-p{k}"  # no fault names: they belong in the annex only
            runs.append(PositionRun(
                position=k, pan=endpoints["meter"]["pan"],
                meter_number=endpoints["meter"]["drn"], faults=mine,
                run_dir=make_run_dir(base, run_id),
                log_path=batch_dir / f"position-{k}.log", endpoints=endpoints))
        meters = args.meters or str(write_meters_file(
            batch_dir / "meters.csv", runs, config.meter.keys, lot=f"emulated-{stamp}"))
        print(f"rig run: {len(runs)} positions on one shared AC source, each in its own "
              f"worker; consoles in {batch_dir}", flush=True)

        result = run_batch(args, extra, runs, base=base, batch_dir=batch_dir,
                           worker_args=worker_args, exit_codes=exit_codes, internal=internal,
                           meters=meters, started=started)
    finally:
        emulator.stop()
    return result


def run_batch(args: Any, extra: list[str], runs: Sequence[PositionRun], *, base: Path,
              batch_dir: Path, worker_args: Callable[[Any, list[str], Path], list[str]],
              exit_codes: dict[int, int], internal: int, meters: str | None,
              started: float, benches: dict[int, Path] | None = None) -> int:
    """Run every position's worker, then write the batch summary and index every run; the
    exit status of them all. `benches` gives a position a bench file of its own (a labgrid
    place's), else each runs on the bench of `args`."""

    def command(run: PositionRun) -> list[str]:
        changes: dict[str, Any] = {"fault": list(run.faults), "meters": meters,
                                   "progress": "lines"}
        if benches:
            changes.update(bench=str(benches[run.position]), speed=None)
        one = argparse_copy(args, **changes)
        return [f"--rig-position={run.position}", *worker_args(one, extra, run.run_dir)]

    def done(run: PositionRun) -> None:
        print(visible(f"  position {run.position} (meter {run.meter_number}) done after "
                      f"{run.seconds:.1f} s: "
                      f"{position_verdict(run.run_dir, _stopped(run, exit_codes, internal))}"),
              flush=True)

    from rig.record.safe_text import visible

    run_workers(runs, command, done)
    codes = [worker_exit(run, exit_codes, internal) for run in runs]
    result = combined_exit(codes)
    recorded = any((run.run_dir / "results.jsonl").is_file() for run in runs)
    written = write_batch(runs, batch_dir) if recorded or result != 130 else None
    if written is None and result in (0, 1):
        result = internal
    index_runs(base)
    print(visible(f"rig run: {len(runs)} positions, {time.monotonic() - started:.1f} s, "
                  f"exit code {result}"))
    if written:
        print(f"  batch    {written}")
    for run, code in zip(runs, codes, strict=True):
        report = run.run_dir / "report.pdf"
        print(visible(f"  position {run.position}  meter {run.meter_number}  "
                      f"{position_verdict(run.run_dir, code == 130)}  (exit {code})  "
                      f"{report if report.exists() else run.run_dir}"))
    return result


def _stopped(run: PositionRun, exit_codes: dict[int, int], internal: int) -> bool:
    return worker_exit(run, exit_codes, internal) == 130


def argparse_copy(args: Any, **changes: Any) -> Any:
    """A copy of parsed arguments with some changed (one position's)."""
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


def write_batch(runs: Sequence[PositionRun], batch_dir: Path) -> Path | None:
    """The batch summary (batch.html, batch.pdf) of the positions' runs; its PDF's path,
    or None after saying on stderr why it could not be written."""
    from rig.record.batch_report import BatchReportError, runs_of_folders, write_batch_report

    folders = [run.run_dir for run in runs if (run.run_dir / "results.jsonl").is_file()]
    try:
        _, written = write_batch_report(runs_of_folders(folders), batch_dir,
                                        title="Batch summary: positions run")
    except (BatchReportError, OSError, RuntimeError, ValueError) as exc:
        print(f"rig run: the batch summary was not written: {exc}", file=sys.stderr)
        return None
    return written[-1]


def index_runs(base: Path) -> None:
    """Every run folder of the reports folder into its results database (as `rig results`
    does); a database that cannot be written is said, the run folders stay the truth."""
    from rig.record.results_db import ResultsDb, ResultsDbError

    try:
        with ResultsDb(base) as db:
            db.sync()
    except (ResultsDbError, OSError) as exc:
        print(f"rig run: the results database was not updated: {exc}", file=sys.stderr)
