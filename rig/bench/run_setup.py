"""What a run of the plans is set up with, before anything is opened: its options, the bench
file, the meter's profile, and what those alone say about the bench.

A bad bench file, a profile that does not load or an option the bench cannot take is a
`BenchFault` naming what was wrong, found here, so the run stops with one message before a
port is opened or a test collected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig import __version__

__all__ = ["BenchFault", "RunOptions", "config_identity", "load_run_config"]


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


def load_run_config(options: RunOptions) -> tuple[Any, Any]:
    """(bench config, meter profile) of a run: the bench file (None: the packaged emulated
    bench) and its meter's profile, or `--profile` instead of it, which the emulated meter
    then serves too. BenchFault names the file, the option or the key that is wrong."""
    from rig.bench.config import ConfigError, load_bench

    try:
        config = load_bench(options.bench)
    except (ConfigError, ValueError, OSError) as exc:
        raise BenchFault(str(exc)) from None
    if (options.faults or options.speed) and not config.bench.emulated:
        what = "--fault" if options.faults else "--speed"
        raise BenchFault(f"{what} applies to an emulated bench only; {config.path.name} "
                         "is a real one (bench.emulated = false)")
    ref, _ = config.profile_ref(options.profile)
    where = "--profile" if options.profile else f"{Path(config.path).name}: meter.profile"
    try:
        profile = config.load_profile(options.profile)
    except (ValueError, OSError) as exc:
        raise BenchFault(f"{where} {ref!r}: {exc}") from None
    if options.profile:  # the emulated meter serves this profile too
        config = dataclasses.replace(
            config, meter=dataclasses.replace(config.meter, profile=profile.source))
    return config, profile


def config_identity(config: Any, profile: Any, options: RunOptions) -> dict[str, Any]:
    """What the bench file alone says about the bench (before anything is opened): the
    record's identity until bring-up fills in who answered."""
    today = dt.date.today()
    identity: dict[str, Any] = {
        "bench": config.bench.name, "bench_file": str(config.path),
        "emulated": config.bench.emulated, "rig_version": __version__,
        "meter": {"pan": config.meter.pan, "profile": profile.name,
                  "optical": config.meter.optical},
        "keypad": {"port": config.keypad.port if config.keypad else None},
        "instruments": {},
    }
    identity["speed"] = options.speed or config.bench.speed  # the bench clock
    if config.bench.emulated:
        identity["faults"] = list(options.faults or config.bench.faults)
    for role, inst in config.instruments.items():
        due = inst.calibration_due
        identity["instruments"][role] = {
            "model": inst.model, "resource": inst.resource,
            "calibration_due": due.isoformat() if due else None,
            "calibration_expired": bool(due and due < today),
        }
    return identity
