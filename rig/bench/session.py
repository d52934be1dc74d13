"""What the plugin keeps for one pytest session of plans: the bench, the run record.

The session holds the run together; each of its concerns is a module of its own:
`rig.bench.run_setup` (the options, the bench file and the profile, before anything opens),
`rig.bench.bring_up` (who answered, whether the meter came up), `rig.bench.pan_check` (is
this the meter the run is for, and whose keys), `rig.bench.stop_signals` (SIGTERM as Ctrl-C,
no signal cutting the safe state short). What stays here is the run's record: its folder,
its `run_start`, measurement, test and `run_end` lines.

The bench is brought up once, before the first test (so a bad bench stops the run with one
message before any test runs), and put back safe after the last one, whatever happens. A
meter that does not come up is not a bench fault: the session remembers why, and every test
that needs the meter is skipped with that reason instead of failing one by one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from drivers.instruments.registry import roles
from rig import __version__
from rig.bench.run_setup import BenchFault, RunOptions, config_identity, load_run_config
from rig.bench.stop_signals import catch_sigterm, deferred_signals, restore_sigterm
from rig.record.run_record import (
    Measurement,
    Redactor,
    RunRecord,
    TestOutcome,
    clause_matrix,
    measurement_line,
)

__all__ = ["BENCH_FIXTURES", "METER_FIXTURES", "RIG_FIXTURES", "BenchFault", "RigSession",
           "RunOptions", "declared_values", "default_run_id", "deferred_signals"]

log = logging.getLogger("rig.bench.session")

#: fixtures that need the open bench; those that need the meter to answer; all of ours
ROLES = roles()  # the instrument roles, from the model registry (drivers/instruments/)
BENCH_FIXTURES = frozenset({"bench", "optical", "keypad", *ROLES, "dut",
                            "relay_timer", "energy_meter"})  # rig.bench.capabilities
METER_FIXTURES = frozenset({"optical", "dut"})
RIG_FIXTURES = BENCH_FIXTURES | {"bench_config", "profile", "vendor", "record", "attach_plot",
                                "operator"}


class RigSession:
    """The plan session's bench, record and per-test outcomes."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.active = False
        self.keyring: set[bytes] = set()
        self.redact = Redactor(self.keyring)
        self.bench_config: Any = None
        self.profile: Any = None
        self.run_id: str | None = None
        self.run_dir: Path | None = None
        self.record: RunRecord | None = None
        self.tests: dict[str, TestOutcome] = {}
        self.identity: dict[str, Any] = {}
        self.bench: Any = None
        self.bench_error: str | None = None
        self.meter_error: str | None = None
        self.meter_warning: str | None = None
        # the meter's optical port is outside IEC 62056-21 (found once, at bring-up): the
        # tests that need the meter are skipped naming it, but those that judge the link
        self.optical_fault: str | None = None
        self.finished = False
        self.start_written = False
        self.stop_reason: str | None = None  # why the run stopped early (Ctrl-C, SIGTERM, ...)
        self.teardown_errors: list[str] = []
        self._meter_tried = False
        self._vendor: Any = None
        self._stack = ExitStack()
        self._clock: tuple[float, float, float] | None = None  # bench t, monotonic, speed

    # --- configuration (rig.bench.run_setup) ----------------------------------------------

    def load_config(self) -> None:
        """Parse the bench file and the meter's profile; BenchFault names what is wrong."""
        if self.bench_config is None:
            self.bench_config, self.profile = load_run_config(self.options)

    # --- the run directory ----------------------------------------------------------------

    def activate(self, tests: list[TestOutcome]) -> None:
        """Make the run directory and its results file (the config is loaded first)."""
        from rig.record.run_folder import RunFolderError, claim_run_dir, write_latest

        self.load_config()
        base = Path(self.options.report_dir)
        run_id = self.options.run_id or default_run_id()
        try:  # a folder of its own, never one another run uses (rig.record.run_folder)
            run_dir = claim_run_dir(base, run_id)
            write_latest(base, run_dir)
            self.record = RunRecord(run_dir / "results.jsonl", self.redact)
        except (RunFolderError, OSError) as exc:
            raise BenchFault(f"--rig-report-dir {base}: {exc}") from None
        self.run_id, self.run_dir = run_dir.name, run_dir
        self.tests = {t.test: t for t in tests}
        self.active = True

    def write_start(self, argv: list[str]) -> None:
        """The `run_start` line: who, what, on which bench."""
        config = self.bench_config
        self.identity = self.identity or self.config_identity()
        assert self.record is not None
        self.start_written = True
        self.record.write(
            "run_start", run_id=self.run_id, rig_version=__version__,
            bench_file=str(config.path), bench=config.bench.name,
            emulated=config.bench.emulated, speed=self.identity.get("speed"),
            faults=self.identity.get("faults", []), profile=self.profile.name,
            identity=self.identity, declared=declared_values(self.profile),
            bench_error=self.bench_error, meter_error=self.meter_error,
            meter_warning=self.meter_warning,
            allow_expired_calibration=self.options.allow_expired_calibration,
            tests=len(self.tests), position=self.options.position, argv=argv)

    # --- bring-up (rig.bench.bring_up, rig.bench.pan_check) --------------------------------

    def config_identity(self) -> dict[str, Any]:
        """What the bench file alone says about the bench (before anything is opened)."""
        return config_identity(self.bench_config, self.profile, self.options)

    def bring_up(self, *, meter: bool) -> None:
        """Open the bench, every instrument and the injector; then (if `meter`) power the
        meter and read its identity. A bench fault raises BenchFault; a silent meter only
        sets `meter_error`."""
        from rig.bench.bring_up import open_devices

        if self.bench is not None or self.bench_error is not None:
            return
        self.load_config()
        self.identity = self.config_identity()
        self._stack.callback(restore_sigterm, catch_sigterm())
        try:
            self.bench, self._clock = open_devices(self._stack, self.bench_config,
                                                   self.options, self.identity)
        except BenchFault as exc:
            self._fail(str(exc))
        if meter:
            self._bring_up_meter()

    def _fail(self, message: str) -> None:
        self.bench_error = self.redact(message)
        self.close()
        raise BenchFault(self.bench_error)

    def _bring_up_meter(self) -> None:
        """The meter up (rig.bench.bring_up), then the PAN check (rig.bench.pan_check): a
        meter that is not the run's stops the run, one that did not come up does not."""
        from rig.bench.bring_up import bring_up_meter
        from rig.bench.pan_check import WrongMeter, check_pan

        self._meter_tried = True
        up = bring_up_meter(self.bench, self.bench_config, self.profile)
        self.identity["meter"].update(up.found)
        self.optical_fault = up.optical_fault or self.optical_fault
        if up.error is not None:
            self.meter_error = self.redact(up.error)
            return
        if up.warning is not None:
            self.meter_warning = self.redact(up.warning)
        port = self.bench.config.meter.optical
        pan_read = up.found.get("pan_read")
        try:
            if self.options.meters:
                self._keys_from_meters_file(pan_read, port)
            else:
                check_pan(pan_read, self.bench_config, port)
        except WrongMeter as exc:
            self._fail(str(exc))

    def _keys_from_meters_file(self, pan_read: str | None, port: Any) -> None:
        """--meters FILE: the meter is the one it says it is; its keys and lot come from the
        meters file by the PAN it reported, in the session's config and the open bench's."""
        from rig.bench.pan_check import meters_file_entry, with_meter

        path = self.options.meters
        entry = meters_file_entry(path, pan_read, port, self.bench_config)
        self.bench_config = with_meter(self.bench_config, pan_read, entry.keys)
        self.bench.config = with_meter(self.bench.config, pan_read, entry.keys)
        self._vendor = None  # made again from these keys when a test asks for it
        meter = self.identity["meter"]
        meter.update(pan=pan_read, lot=entry.lot, meters_file=str(path),
                     meters_file_lines=list(entry.lines))

    def require_bench(self) -> Any:
        """The open bench (brought up now if no test asked for it at collection)."""
        if self.bench is None and self.bench_error is None:
            self.bring_up(meter=False)
        if self.bench is None:
            raise BenchFault(self.bench_error or "the bench is not up")
        return self.bench

    def require_meter(self) -> Any:
        """The bench, its meter brought up (see `meter_error` for why it did not come up)."""
        bench = self.require_bench()
        if not self._meter_tried:
            self._bring_up_meter()
        return bench

    # --- during the run -------------------------------------------------------------------

    def bench_time(self) -> float | None:
        """The bench clock now, estimated from the injector's clock read at bring-up."""
        if self._clock is None:
            return None
        t_bench, t_mono, speed = self._clock
        return round(t_bench + (time.monotonic() - t_mono) * speed, 3)

    def vendor(self) -> Any:
        """The run's one vendor for the bench meter (its TID sequence is the run's)."""
        if self._vendor is None:
            from rig.meter.vendor import BenchVendor

            self.load_config()
            self._vendor = BenchVendor.for_bench(self.bench_config, keyring=self.keyring)
        return self._vendor

    def write_measurement(self, m: Measurement) -> None:
        if self.record is not None:
            self.record.write("measurement", **measurement_line(m))

    def stopping(self, reason: str) -> None:
        """The run stops early: from now on no device is driven (a fixture's teardown fails
        at once instead of typing a key change or switching the supply on)."""
        self.stop_reason = self.stop_reason or reason
        if self.bench is not None:
            self.bench.stop(self.stop_reason)

    def no_verdict(self) -> str | None:
        """Why this run judged nothing, or None: the meter never came up, or no test
        reached a verdict (all skipped, deselected, or none ran)."""
        if self.bench_error:
            return self.bench_error
        if self.meter_error:
            return self.meter_error
        judged = [t for t in self.tests.values()
                  if t.outcome in ("passed", "failed", "error", "xfailed", "xpassed")]
        if self.tests and not judged and self.stop_reason is None:
            skipped = sum(t.outcome == "skipped" for t in self.tests.values())
            return (f"no test reached a verdict ({skipped} of {len(self.tests)} skipped, "
                    f"{len(self.tests) - skipped} not run)")
        return None

    def finish(self, exitstatus: int) -> None:
        """The `run_end` line (counts and the clause matrix), then the bench goes back."""
        if self.finished:
            return
        self.finished = True
        for test in self.tests.values():
            if test.outcome == "running":  # stopped inside it (Ctrl-C, SIGTERM, pytest.exit)
                test.outcome = "interrupted"
                test.reason = self.stop_reason or ""
                if self.record is not None:
                    self.record.write("test", test=test.test, outcome=test.outcome,
                                      phase=test.phase, duration=round(test.duration, 3),
                                      clauses=test.clauses, faults=test.faults,
                                      reason=test.reason)
        counts: dict[str, int] = {}
        for test in self.tests.values():
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        try:
            if self.record is not None and not self.start_written and self.bench_config:
                # stopped before the plan began (a Ctrl-C in the bring-up): the record still
                # opens with what was run on which bench, so its report can be rendered
                self.write_start([])
            if self.record is not None:
                self.record.write("run_end", counts=counts, exitstatus=int(exitstatus),
                                  bench_error=self.bench_error, meter_error=self.meter_error,
                                  stopped=self.stop_reason, no_verdict=self.no_verdict(),
                                  teardown_errors=self.teardown_errors,
                                  clause_matrix=clause_matrix(self.tests.values()))
        finally:
            self.close()

    def close(self) -> None:
        """Put the bench back (safe states, emulator stopped); never raises, and a Ctrl-C or
        SIGTERM that comes meanwhile waits until the bench is safe."""
        with deferred_signals():
            try:
                self._stack.close()
            except Exception as exc:  # the rest of the teardown must still happen
                log.warning("closing the bench failed: %s", exc)
        self.bench = None


def declared_values(profile: Any) -> list[Any]:
    """The profile's declared values for the record, without its secrets (the optical
    password is a value the meter keeps, not one the report may print)."""
    return [row if "password" not in str(row[0]).lower() else (row[0], "(not shown)", *row[2:])
            for row in profile.as_table()]


def default_run_id() -> str:
    """`YYYYmmdd-HHMMSS`. The run id heads every page of the report, so an emulated run's
    faults are no part of it: they are named in the lab's annex only."""
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")
