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
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers.instruments import MODELS, ScpiInstrument
from drivers.keypad import KeypadInjector
from drivers.optical import OpticalPort
from rig.config import BenchConfig, ConfigError

log = logging.getLogger("rig.bench")


class BenchError(RuntimeError):
    """The bench could not be brought up (emulator start, calibration, a missing device)."""


class EmulatorProcess:
    """`python -m emulator` for one emulated bench, and the endpoints it announced."""

    def __init__(self, config: BenchConfig, *, speed: float, faults: Iterable[str],
                 state_path: Path | None = None, log_path: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rig-emulator-")
        state = state_path or Path(self._tmp.name) / "meter-state.json"
        self.log_path = log_path or Path(self._tmp.name) / "emulator.log"
        cmd = [sys.executable, "-m", "emulator", "--bench", str(config.path),
               "--speed", f"{speed:g}", "--state", str(state)]
        for fault in faults:
            cmd += ["--fault", fault]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True)
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
            err = self.log_path.read_text().strip().splitlines()
            raise BenchError("the emulated bench did not start: "
                             + (err[-1] if err else "no output within 30 s"))
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


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

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    @property
    def speed(self) -> float:
        return float(self.emulator.endpoints["speed"]) if self.emulator else 1.0

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
        if self._optical is None:
            m = self.config.meter
            if not m.optical:
                raise BenchError("the bench has no optical port (meter.optical)")
            self._optical = OpticalPort(m.optical, address=m.address, password=m.password)
        return self._optical

    @property
    def keypad(self) -> KeypadInjector:
        if self._keypad is None:
            k = self.config.keypad
            if k is None or not k.port:
                raise BenchError("the bench has no keypad injector ([keypad] port)")
            self._keypad = KeypadInjector(k.port, press_ms=k.press_ms, gap_ms=k.gap_ms)
            self._identity["keypad"] = self._keypad.identify()
        return self._keypad

    def instrument(self, role: str) -> ScpiInstrument:
        if role not in self._instruments:
            cfg = self.config.instruments.get(role)
            if cfg is None or not cfg.resource:
                raise BenchError(f"the bench has no {role} ([instruments.{role}])")
            self.check_calibration(role)
            cls = MODELS[role][cfg.model]
            kwargs: dict[str, Any] = {"timeout_ms": cfg.timeout_ms}
            if role == "source":
                kwargs["terminals_open"] = self.config.safety.terminals_open
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
        if self.emulated:
            out["speed"] = self.speed
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
        """Safe state for every instrument, a break on the optical port; never raises."""
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


@contextmanager
def open_bench(config: BenchConfig, *, speed: float | None = None, faults: Iterable[str] = (),
               state_path: Path | None = None,
               allow_expired_calibration: bool = False) -> Iterator[Bench]:
    """Bring a bench up (starting the emulator for an emulated one) and always put it back."""
    emulator = None
    if config.bench.emulated:
        emulator = EmulatorProcess(config, speed=speed or config.bench.speed,
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
