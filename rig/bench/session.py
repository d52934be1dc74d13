"""What the plugin keeps for one pytest session of plans: the bench, the run record.

The bench is brought up once, before the first test (so a bad bench stops the run with one
message before any test runs), and put back safe after the last one, whatever happens. A
meter that does not come up is not a bench fault: the session remembers why, and every test
that needs the meter is skipped with that reason instead of failing one by one.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.instruments.registry import roles
from rig import __version__
from rig.record.run_record import (
    Measurement,
    Redactor,
    RunRecord,
    TestOutcome,
    clause_matrix,
    measurement_line,
)

log = logging.getLogger("rig.bench.session")

#: fixtures that need the open bench; those that need the meter to answer; all of ours
ROLES = roles()  # the instrument roles, from the model registry (drivers/instruments/)
BENCH_FIXTURES = frozenset({"bench", "optical", "keypad", *ROLES, "dut",
                            "relay_timer", "energy_meter"})  # rig.bench.capabilities
METER_FIXTURES = frozenset({"optical", "dut"})
RIG_FIXTURES = BENCH_FIXTURES | {"bench_config", "profile", "vendor", "record", "attach_plot",
                                "operator"}


class BenchFault(Exception):
    """The bench cannot be used (bad file, missing port, a device that does not answer,
    an instrument past its calibration date): the run stops before any test."""


@dataclass
class RunOptions:
    """The plugin's command-line options."""

    bench: str | None = None
    speed: float | None = None
    faults: list[str] = field(default_factory=list)
    allow_expired_calibration: bool = False
    report_dir: Path = Path("reports")
    run_id: str | None = None
    profile: str | None = None  # --profile NAME|FILE: instead of the bench file's
    meters: str | None = None  # --meters FILE: the meter's keys by the PAN it reports
    position: str | None = None  # --rig-position K: the bench position of a positions run


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
        self.stop_reason: str | None = None  # why the run stopped early (Ctrl-C, SIGTERM, ...)
        self.teardown_errors: list[str] = []
        self._meter_tried = False
        self._vendor: Any = None
        self._tids: Any = None
        self._stack = ExitStack()
        self._clock: tuple[float, float, float] | None = None  # bench t, monotonic, speed

    # --- configuration --------------------------------------------------------------------

    def load_config(self) -> None:
        """Parse the bench file and the meter's profile; BenchFault names what is wrong."""
        if self.bench_config is not None:
            return
        from meterprofile import load_profile
        from rig.bench.config import ConfigError, load_bench

        try:
            config = load_bench(self.options.bench)
        except (ConfigError, ValueError, OSError) as exc:
            raise BenchFault(str(exc)) from None
        if (self.options.faults or self.options.speed) and not config.bench.emulated:
            what = "--fault" if self.options.faults else "--speed"
            raise BenchFault(f"{what} applies to an emulated bench only; {config.path.name} "
                             "is a real one (bench.emulated = false)")
        ref, beside = config.meter.profile, Path(config.path).parent
        where = f"{Path(config.path).name}: meter.profile"
        if self.options.profile:
            ref, where, beside = self.options.profile, "--profile", None
        try:
            profile = load_profile(ref, beside)
        except (ValueError, OSError) as exc:
            raise BenchFault(f"{where} {ref!r}: {exc}") from None
        if self.options.profile:  # the emulated meter serves this profile too
            import dataclasses

            config = dataclasses.replace(
                config, meter=dataclasses.replace(config.meter, profile=profile.source))
        self.bench_config, self.profile = config, profile

    # --- the run directory ----------------------------------------------------------------

    def activate(self, tests: list[TestOutcome]) -> None:
        """Make the run directory and its results file (the config is loaded first)."""
        from rig.record.run_folder import RunFolderError, claim_run_dir, write_latest

        self.load_config()
        base = Path(self.options.report_dir)
        run_id = self.options.run_id or default_run_id(self.options.faults)
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

    # --- bring-up -------------------------------------------------------------------------

    def config_identity(self) -> dict[str, Any]:
        """What the bench file alone says about the bench (before anything is opened)."""
        config = self.bench_config
        today = dt.date.today()
        identity: dict[str, Any] = {
            "bench": config.bench.name, "bench_file": str(config.path),
            "emulated": config.bench.emulated, "rig_version": __version__,
            "meter": {"pan": config.meter.pan, "profile": self.profile.name,
                      "optical": config.meter.optical},
            "keypad": {"port": config.keypad.port if config.keypad else None},
            "instruments": {},
        }
        identity["speed"] = self.options.speed or config.bench.speed  # the bench clock
        if config.bench.emulated:
            identity["faults"] = list(self.options.faults or config.bench.faults)
        for role, inst in config.instruments.items():
            due = inst.calibration_due
            identity["instruments"][role] = {
                "model": inst.model, "resource": inst.resource,
                "calibration_due": due.isoformat() if due else None,
                "calibration_expired": bool(due and due < today),
            }
        return identity

    def bring_up(self, *, meter: bool) -> None:
        """Open the bench, every instrument and the injector; then (if `meter`) power the
        meter and read its identity. A bench fault raises BenchFault; a silent meter only
        sets `meter_error`."""
        from drivers.instruments import InstrumentError
        from drivers.keypad import KeypadError
        from drivers.optical import OpticalError
        from rig.bench.config import ConfigError
        from rig.bench.devices import BenchError, open_bench

        if self.bench is not None or self.bench_error is not None:
            return
        self.load_config()
        self.identity = self.config_identity()
        opts = self.options
        self._stack.callback(self._restore_sigterm, self._catch_sigterm())
        try:
            bench = self._stack.enter_context(open_bench(
                self.bench_config, speed=opts.speed, faults=opts.faults,
                allow_expired_calibration=opts.allow_expired_calibration))
            self.bench = bench
            self._identify_bench(bench)
        except (BenchFault, BenchError, ConfigError, InstrumentError, KeypadError,
                OpticalError, OSError, ValueError) as exc:
            self._fail(f"bench bring-up failed: {exc}")
        if meter:
            self._bring_up_meter()

    def _fail(self, message: str) -> None:
        self.bench_error = self.redact(message)
        self.close()
        raise BenchFault(self.bench_error)

    def _identify_bench(self, bench: Any) -> None:
        ident = self.identity
        ident["speed"] = bench.speed
        if bench.emulated:
            ident["faults"] = list(bench.faults)
        for role in ROLES:
            if bench.has(role):
                resource = bench.config.instruments[role].resource
                inst = _opened(f"{role} ({resource})", lambda r=role: bench.instrument(r))
                ident["instruments"][role]["idn"] = inst.idn
                ident["instruments"][role]["resource"] = resource
        if bench.has("keypad"):
            port = bench.config.keypad.port
            keypad = _opened(f"keypad injector ({port})", lambda: bench.keypad)
            ident["keypad"] = {"port": port, "idn": keypad.idn}
            self._clock = (keypad.time(), time.monotonic(), float(bench.speed))
        if bench.has("optical"):
            port = bench.config.meter.optical
            ident["meter"]["optical"] = port
            # open the port now: a missing one is a bench fault, a silent meter is not
            _opened(f"optical port ({port})", lambda: bench.optical)

    def _bring_up_meter(self) -> None:
        from drivers.instruments import InstrumentError
        from drivers.optical import NoAnswerError, OpticalError

        self._meter_tried = True
        bench, config = self.bench, self.bench_config
        meter = self.identity["meter"]
        # the bench's own config: on an emulated bench only it names the pty the emulator
        # announced (the bench file's port is None there)
        port = bench.config.meter.optical
        if not bench.has("optical"):
            self.meter_error = "meter bring-up failed: the bench has no optical port"
            return
        try:
            if bench.has("source") and not config.safety.terminals_open:
                source = bench.instrument("source")
                source.voltage = self.profile.ratings.voltage_v
                source.frequency = self.profile.ratings.frequency_hz
                if not source.output:
                    source.output = True
                    time.sleep(min(1.0, 1.0 / max(float(bench.speed), 1e-3)))
            started = time.monotonic()
            ident = bench.optical.identify()
            self._judge_reaction(port, ident, time.monotonic() - started)
        except NoAnswerError as exc:
            if not bench.has("source"):
                supply = "the bench has no AC source to power it"
            elif config.safety.terminals_open:
                supply = "safety.terminals_open: the rig did not switch the AC source on"
            else:
                supply = "the AC source output is on"
            self.meter_error = self.redact(f"meter bring-up failed: no answer on the optical "
                                           f"port {port} ({supply}): {exc}")
            return
        except (OpticalError, InstrumentError, OSError) as exc:
            self.meter_error = self.redact(f"meter bring-up failed: {exc}")
            return
        meter["manufacturer"] = ident.manufacturer
        meter["identification"] = ident.ident
        warnings = []
        from rig.meter.fact_resolver import FactResolver

        facts = FactResolver(self.profile, bench)  # read only what the model declares
        for key, fact in (("pan_read", "meter_pan"), ("firmware", "firmware")):
            if not facts.offers(fact):
                continue
            try:
                meter[key] = str(facts.value(fact))
            except (OpticalError, ValueError) as exc:
                warnings.append(f"{facts.describe(fact)}: {exc}")
                if isinstance(exc, LINK_ERRORS) and self.optical_fault is None:
                    self.optical_fault = (
                        f"the meter's optical port ({port}) identified itself, but a register "
                        f"read at bring-up failed on the link ({facts.describe(fact)}: {exc}): "
                        "every read of the plan would fail the same way after its retries, so "
                        "only the tests that judge the optical link are run")
        if warnings:
            self.meter_warning = self.redact("meter answered at bring-up, with errors: "
                                             + "; ".join(warnings))
        pan_read = meter.get("pan_read")
        if self.options.meters:
            self._keys_from_meters_file(pan_read, port)
        elif pan_read and pan_read != config.meter.pan:
            self._fail(f"the meter on {port} reports PAN {pan_read}, the "
                       f"bench file {Path(config.path).name} names {config.meter.pan}")

    def _keys_from_meters_file(self, pan_read: str | None, port: Any) -> None:
        """--meters FILE: the meter is the one it says it is; its keys and lot come from the
        meters file by the PAN it reported (rig.bench.meters_file), not from the bench file's
        [meter] (whose vending key reference is kept: it is the vending side's)."""
        import dataclasses

        from rig.bench.meters_file import MetersFileError, load_meters

        path = self.options.meters
        if not pan_read:
            self._fail(f"--meters {path}: the meter on {port} did not report its PAN at "
                       f"bring-up (its profile offers no meter_pan read, or the read failed)")
        try:
            entry = load_meters(path).entry_for(
                pan_read, vending_key=self.bench_config.meter.keys.vending_key)
        except MetersFileError as exc:
            self._fail(f"--meters: {exc}")
        for holder in (self, self.bench):  # the session's config and the open bench's
            cfg = holder.bench_config if holder is self else holder.config
            cfg = dataclasses.replace(cfg, meter=dataclasses.replace(
                cfg.meter, pan=pan_read, keys=entry.keys))
            if holder is self:
                self.bench_config = cfg
            else:
                holder.config = cfg
        self._vendor = None  # made again from these keys when a test asks for it
        meter = self.identity["meter"]
        meter.update(pan=pan_read, lot=entry.lot, meters_file=str(path),
                     meters_file_lines=list(entry.lines))

    #: IEC 62056-21:2002 6.3.14: the meter answers a request within tr <= 1.5 s
    MAX_REACTION_S = 1.5
    #: the host's share of a sign-on timed from here (writing the request, the break)
    HOST_SLACK_S = 0.25

    def _judge_reaction(self, port: Any, ident: Any, elapsed: float) -> None:
        """A sign-on answered later than the standard allows makes every read of the plan
        wait as long (and longer, retried): say so once, and let only the tests that judge
        the optical link run, instead of running the plan into its timeouts test by test."""
        from drivers.optical import wire_time

        answer = 1 + len(ident.manufacturer) + 1 + len(ident.ident) + 2
        answer += 2 if getattr(ident, "enhanced", None) else 0
        reaction = elapsed - wire_time(answer, 300)
        if reaction > self.MAX_REACTION_S + self.HOST_SLACK_S:
            self.optical_fault = (
                f"the meter's optical port ({port}) answered its sign-on after "
                f"{reaction:.1f} s, past the {self.MAX_REACTION_S:g} s IEC 62056-21 allows "
                "(6.3.14, tr): every read of the plan would wait as long, so only the tests "
                "that judge the optical link are run")

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

    # --- SIGTERM: the same clean stop as Ctrl-C, so the emulator never outlives the run ---

    @staticmethod
    def _catch_sigterm() -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt("SIGTERM")

        return signal.signal(signal.SIGTERM, stop)

    @staticmethod
    def _restore_sigterm(previous: Any) -> None:
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (the bench's safe state must not be
    cut short by a second Ctrl-C); each one that came meanwhile is said on stderr."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def later(signum: int, frame: Any) -> None:
        sys.stderr.write(f"rig: {signal.Signals(signum).name} received while the bench is put "
                         "in its safe state; stopping as soon as it is\n")

    previous = {sig: signal.signal(sig, later) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is later:  # a handler restored meanwhile stays
                signal.signal(sig, handler)


def _link_errors() -> tuple[type[Exception], ...]:
    from drivers.optical import BCCError, DeadlineError, MessageTooLongError, NoAnswerError

    return (NoAnswerError, DeadlineError, BCCError, MessageTooLongError)


#: a register read that fails so says the optical link itself is unusable (no answer, an
#: answer that never ends or is too long, a wrong block check), not that a register is missing
LINK_ERRORS = _link_errors()


def _opened(what: str, open_it: Any) -> Any:
    """Open one device; any failure becomes a BenchFault naming the device."""
    try:
        return open_it()
    except BenchFault:
        raise
    except Exception as exc:
        text = str(exc)
        raise BenchFault(text if text.startswith(what.split(" (")[0]) else
                         f"{what}: {text or type(exc).__name__}") from None


def declared_values(profile: Any) -> list[Any]:
    """The profile's declared values for the record, without its secrets (the optical
    password is a value the meter keeps, not one the report may print)."""
    return [row if "password" not in str(row[0]).lower() else (row[0], "(not shown)", *row[2:])
            for row in profile.as_table()]


def default_run_id(faults: list[str] | tuple[str, ...] = ()) -> str:
    """`YYYYmmdd-HHMMSS`, plus the faults of an emulated run (`-late-relay`)."""
    run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return run_id + "".join(f"-{f}" for f in faults)
