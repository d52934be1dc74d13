"""An open bench: every device of a bench file, started, opened and put back safe.

For an emulated bench, `open_bench` starts `python -m emulator` as a subprocess, reads the
JSON line it prints and fills in the ports. Devices open lazily, one per role, so a plan that
needs only the meter never touches the scope. On exit, however it comes, every instrument is
put in its safe state, the optical session gets its break, and the emulator stops.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from drivers.instruments import ScpiInstrument, model_class
from drivers.keypad import KeypadInjector
from drivers.optical import OpticalPort
from rig.bench.config import BenchConfig, ConfigError

log = logging.getLogger("rig.bench.devices")


class BenchError(RuntimeError):
    """The bench could not be brought up (emulator start, calibration, a missing device)."""


class BenchStopped(BenchError):
    """The run is stopping or over: no device is driven any more (the bench is, or is being
    put, in its safe state)."""


def die_with_parent() -> None:
    """In a child, before exec: the kernel sends it SIGTERM when its parent dies (Linux
    PR_SET_PDEATHSIG), so a SIGKILLed rig never leaves a child driving the bench."""
    if sys.platform.startswith("linux"):
        import ctypes

        with suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class EmulatorProcess:
    """`python -m emulator` for one emulated bench, and the endpoints it announced.

    The emulator lives exactly as long as this object's owner: it runs in a session of its
    own (a Ctrl-C at the terminal reaches the rig, which stops it after the bench is safe,
    not before), it dies with its parent (PR_SET_PDEATHSIG) and it exits when its stdin, a
    pipe held here, closes. Its meter keeps its non-volatile memory in its own process
    unless `state_path` is given, so no file holding decoder keys is left in the temp folder.
    """

    def __init__(self, config: BenchConfig, *, speed: float, faults: Iterable[str],
                 state_path: Path | None = None, log_path: Path | None = None,
                 extra_args: Iterable[str] = ()) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rig-emulator-")
        self.log_path = log_path or Path(self._tmp.name) / "emulator.log"
        cmd = [sys.executable, "-m", "emulator", "--bench", str(config.path),
               "--speed", f"{speed:g}", "--exit-on-stdin-eof", *extra_args,
               "--profile", str(config.meter.profile)]
        if state_path is not None:
            cmd += ["--state", str(state_path)]
        for fault in faults:
            cmd += ["--fault", fault]
        kind = getattr(config.keypad, "kind", "injector") if config.keypad else "injector"
        if kind != "injector":  # the emulator serves that relay board on the keypad pty
            cmd += ["--keypad", kind]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, start_new_session=True,
                                     preexec_fn=die_with_parent)
        self.endpoints = self._read_endpoints()

    def _read_endpoints(self) -> dict[str, Any]:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout=30)
        line = box[0] if box else ""
        if not line:
            self.stop()
            err = self.log_path.read_text().strip().splitlines() if self.log_path.exists() \
                else []
            raise BenchError("the emulated bench did not start: "
                             + (err[-1] if err else "no output within 30 s"))
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.stop()
            raise BenchError(f"the emulated bench announced no endpoints: {line[:200]!r}") \
                from None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; the temp folder goes with it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        self._log.close()
        self._tmp.cleanup()


class Bench:
    """The devices of one bench, opened on first use."""

    def __init__(self, config: BenchConfig, *, allow_expired_calibration: bool = False,
                 emulator: EmulatorProcess | None = None) -> None:
        self.config = config
        self.emulator = emulator
        self.allow_expired_calibration = allow_expired_calibration
        self._optical: OpticalPort | None = None
        self._keypad: KeypadInjector | None = None
        self._instruments: dict[str, ScpiInstrument] = {}
        self._identity: dict[str, Any] = {}
        self.stopped: str | None = None  # why no device may be driven any more

    def stop(self, reason: str) -> None:
        """From now on no device is driven: a fixture's teardown that would type a key change
        or switch the supply on fails at once (BenchStopped) instead of acting."""
        if self.stopped is None:
            self.stopped = reason

    def _live(self) -> None:
        if self.stopped is not None:
            raise BenchStopped(f"the bench is stopped ({self.stopped}): no device is driven "
                               "any more")

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    @property
    def speed(self) -> float:
        """The bench clock: the emulator's, else the bench file's (an emulator started
        elsewhere; 1 for a real bench)."""
        if self.emulator:
            return float(self.emulator.endpoints["speed"])
        return float(self.config.bench.speed)

    @property
    def faults(self) -> list[str]:
        return list(self.emulator.endpoints["faults"]) if self.emulator else []

    def has(self, role: str) -> bool:
        if role == "optical":
            return bool(self.config.meter.optical)
        if role == "keypad":
            return self.config.keypad is not None and bool(self.config.keypad.port)
        return role in self.config.instruments

    @property
    def optical(self) -> OpticalPort:
        self._live()
        if self._optical is None:
            m = self.config.meter
            if not m.optical:
                raise BenchError("the bench has no optical port (meter.optical)")
            self._optical = OpticalPort(m.optical, address=m.address, password=m.password)
        return self._optical

    @property
    def keypad(self) -> KeypadInjector:
        self._live()
        if self._keypad is None:
            k = self.config.keypad
            if k is None or not k.port:
                raise BenchError("the bench has no keypad injector ([keypad] port)")
            self._keypad = self._keypad_driver(k)
            self._identity["keypad"] = self._keypad.identify()
        return self._keypad

    def _keypad_driver(self, k: Any) -> Any:
        """The driver of [keypad] kind: our injector protocol, or a relay board
        (drivers/relayboard.py) timed by the host clock x the bench speed, from the
        emulator's clock zero on an emulated bench."""
        kind = getattr(k, "kind", "injector")
        baud = getattr(k, "baud", 115200)
        if kind == "injector":
            return KeypadInjector(k.port, press_ms=k.press_ms, gap_ms=k.gap_ms, baudrate=baud)
        from drivers.relayboard import DEFAULT_SYNC_CHANNEL, RELAY_BOARDS

        if kind not in RELAY_BOARDS:
            raise BenchError(f"keypad.kind {kind!r} is not known (known: injector, "
                             f"{', '.join(RELAY_BOARDS)})")
        key_map = getattr(k, "map", None)
        sync = getattr(k, "sync_channel", None)
        if sync is None and key_map is None:  # the board's default wiring has the sync relay
            sync = DEFAULT_SYNC_CHANNEL
        epoch = self.emulator.endpoints.get("clock_epoch") if self.emulator else None
        return RELAY_BOARDS[kind](k.port, key_map=key_map, sync_channel=sync,
                                  press_ms=k.press_ms, gap_ms=k.gap_ms, baudrate=baud,
                                  speed=self.speed, epoch=epoch)

    def instrument(self, role: str) -> ScpiInstrument:
        self._live()
        if role not in self._instruments:
            cfg = self.config.instruments.get(role)
            if cfg is None or not cfg.resource:
                raise BenchError(f"the bench has no {role} ([instruments.{role}])")
            self.check_calibration(role)
            cls = model_class(role, cfg.model)
            kwargs: dict[str, Any] = {"timeout_ms": cfg.timeout_ms}
            if role == "source":
                kwargs["terminals_open"] = self.config.safety.terminals_open
            if getattr(cfg, "channels", None):  # a bench wired otherwise than the model's
                kwargs["channels"] = {name: str(n) for name, n in cfg.channels.items()}
            self._instruments[role] = cls(cfg.resource, **kwargs)
        return self._instruments[role]

    def check_calibration(self, role: str, today: dt.date | None = None) -> None:
        cfg = self.config.instruments[role]
        today = today or dt.date.today()
        if cfg.calibration_due and cfg.calibration_due < today \
                and not self.allow_expired_calibration:
            raise BenchError(f"{role} ({cfg.resource}) is past its calibration due date "
                             f"{cfg.calibration_due.isoformat()}; recalibrate it, or run with "
                             "--allow-expired-calibration")

    def identity(self) -> dict[str, Any]:
        """What the report prints about the bench: meter, injector, instruments."""
        out: dict[str, Any] = {
            "bench": self.config.bench.name, "bench_file": str(self.config.path),
            "emulated": self.emulated, "meter_pan": self.config.meter.pan,
            "profile": self.config.meter.profile,
        }
        out["speed"] = self.speed  # the bench clock (1 on a real bench)
        if self.emulated:
            out["faults"] = self.faults
        if self._optical and self._optical.identification:
            ident = self._optical.identification
            out["meter_manufacturer"] = ident.manufacturer
            out["meter_identification"] = ident.ident
        out.update({k: v for k, v in self._identity.items()})
        for role, cfg in self.config.instruments.items():
            entry = {"resource": cfg.resource, "model": cfg.model,
                     "calibration_due": cfg.calibration_due.isoformat()
                     if cfg.calibration_due else None}
            if role in self._instruments:
                entry["idn"] = self._instruments[role].idn
            out[role] = entry
        return out

    def close(self) -> None:
        """Safe state for every instrument, a break on the optical port; never raises. The
        bench stays stopped: nothing opens a device again after it."""
        self.stop("the run has ended")
        for role, inst in list(self._instruments.items()):
            try:
                inst.close()
            except Exception as exc:  # one device must not keep the others unsafe
                log.warning("%s: close failed: %s", role, exc)
        self._instruments.clear()
        for dev in (self._optical, self._keypad):
            if dev is not None:
                try:
                    dev.close()
                except Exception as exc:
                    log.warning("close failed: %s", exc)
        self._optical = self._keypad = None


#: a relay board is timed by the host, whose jitter (a fraction of a millisecond, a few under
#: load) the bench speed multiplies: an emulated bench with one runs at most this fast
#: unless --speed says otherwise (20x: 0.5 ms of jitter is 10 ms of bench time)
RELAY_BOARD_MAX_SPEED = 20.0


def default_speed(config: BenchConfig) -> float:
    """The emulated bench's speed when none is given: the bench file's, capped for a
    host-timed relay board (RELAY_BOARD_MAX_SPEED)."""
    speed = float(config.bench.speed)
    kind = getattr(config.keypad, "kind", "injector") if config.keypad else "injector"
    return speed if kind == "injector" else min(speed, RELAY_BOARD_MAX_SPEED)


def with_keypad_kind(config: BenchConfig, kind: str) -> BenchConfig:
    """The bench with another keypad kind (`rig run --keypad NAME`); ValueError names the
    known kinds."""
    import dataclasses

    from drivers.relayboard import RELAY_BOARDS

    known = ("injector", *RELAY_BOARDS)
    if kind not in known:
        raise ValueError(f"--keypad {kind!r} is not a keypad kind (known: {', '.join(known)})")
    keypad = config.keypad
    if keypad is None:
        raise ValueError(f"--keypad {kind}: {Path(config.path).name} has no [keypad]")
    if kind == "injector" and getattr(keypad, "kind", "injector") != "injector":
        keypad = dataclasses.replace(keypad, kind=kind, map=None, sync_channel=None)
    elif kind != "injector":
        keypad = dataclasses.replace(keypad, kind=kind)
    return dataclasses.replace(config, keypad=keypad)


@contextmanager
def open_bench(config: BenchConfig, *, speed: float | None = None, faults: Iterable[str] = (),
               state_path: Path | None = None,
               allow_expired_calibration: bool = False) -> Iterator[Bench]:
    """Bring a bench up (starting the emulator for an emulated one) and always put it back."""
    emulator = None
    if config.bench.emulated:
        from rig.meter.vendor import resolve_vending_key

        # the emulated meter reads the same key: a key that cannot be had is named here, not
        # left to the emulator's start (rig.meter.vendor: bounded, never shown)
        resolve_vending_key(config.meter.keys.vending_key, base=Path(config.path).parent)
        emulator = EmulatorProcess(config, speed=speed or default_speed(config),
                                   faults=list(faults) or list(config.bench.faults),
                                   state_path=state_path)
        config = config.with_endpoints(emulator.endpoints)
    elif list(faults):
        raise ConfigError("faults can only be switched on in an emulated bench")
    bench = Bench(config, allow_expired_calibration=allow_expired_calibration,
                  emulator=emulator)
    try:
        yield bench
    finally:
        bench.close()
        if emulator is not None:
            emulator.stop()
