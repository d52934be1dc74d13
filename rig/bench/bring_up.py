"""Bringing the bench up for a run: who answered, and whether the meter came up.

`identify_devices` opens every instrument, the injector and the optical port of an open
bench and notes who answered; a device that does not is a `BenchFault` naming it (the run
stops). `bring_up_meter` powers the meter at its rated supply, signs on over the optical
port, judges the sign-on's reaction time and reads the identity facts the profile declares
(PAN, firmware) through the fact resolver: a meter that does not come up is not a bench
fault, so it answers why (`MeterUp.error`) instead of raising, and the tests that need the
meter are skipped with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from drivers.instruments.registry import roles
from rig.bench.run_setup import BenchFault

__all__ = ["HOST_SLACK_S", "LINK_ERRORS", "MAX_REACTION_S", "MeterUp", "bring_up_meter",
           "identify_devices", "open_devices", "opened", "slow_sign_on"]

#: IEC 62056-21:2002 6.3.14: the meter answers a request within tr <= 1.5 s
MAX_REACTION_S = 1.5
#: the host's share of a sign-on timed from here (writing the request, the break)
HOST_SLACK_S = 0.25


def _link_errors() -> tuple[type[Exception], ...]:
    from drivers.optical import BCCError, DeadlineError, MessageTooLongError, NoAnswerError

    return (NoAnswerError, DeadlineError, BCCError, MessageTooLongError)


#: a register read that fails so says the optical link itself is unusable (no answer, an
#: answer that never ends or is too long, a wrong block check), not that a register is missing
LINK_ERRORS = _link_errors()


def opened(what: str, open_it: Callable[[], Any]) -> Any:
    """Open one device; any failure becomes a BenchFault naming the device."""
    try:
        return open_it()
    except BenchFault:
        raise
    except Exception as exc:
        text = str(exc)
        raise BenchFault(text if text.startswith(what.split(" (")[0]) else
                         f"{what}: {text or type(exc).__name__}") from None


def open_devices(stack: ExitStack, config: Any, options: Any,
                 identity: dict[str, Any]) -> tuple[Any, tuple[float, float, float] | None]:
    """Open the bench of `config` on `stack` (closed with it: the bench put back safe) and
    identify every device; (bench, its clock). BenchFault names the device or file at fault
    ("bench bring-up failed: ...")."""
    from drivers.instruments import InstrumentError
    from drivers.keypad import KeypadError
    from drivers.optical import OpticalError
    from rig.bench.config import ConfigError
    from rig.bench.devices import BenchError, open_bench

    try:
        bench = stack.enter_context(open_bench(
            config, speed=options.speed, faults=options.faults,
            allow_expired_calibration=options.allow_expired_calibration))
        return bench, identify_devices(bench, identity)
    except (BenchFault, BenchError, ConfigError, InstrumentError, KeypadError,
            OpticalError, OSError, ValueError) as exc:
        raise BenchFault(f"bench bring-up failed: {exc}") from None


def identify_devices(bench: Any, identity: dict[str, Any]) -> tuple[float, float, float] | None:
    """Open every device of the bench and note in `identity` who answered; the bench clock
    as (injector time, monotonic time, speed) when the bench has an injector to read it."""
    clock = None
    identity["speed"] = bench.speed
    if bench.emulated:
        identity["faults"] = list(bench.faults)
    for role in roles():
        if bench.has(role):
            resource = bench.config.instruments[role].resource
            inst = opened(f"{role} ({resource})", lambda r=role: bench.instrument(r))
            identity["instruments"][role]["idn"] = inst.idn
            identity["instruments"][role]["resource"] = resource
    if bench.has("keypad"):
        port = bench.config.keypad.port
        keypad = opened(f"keypad injector ({port})", lambda: bench.keypad)
        identity["keypad"] = {"port": port, "idn": keypad.idn}
        clock = (keypad.time(), time.monotonic(), float(bench.speed))
    if bench.has("optical"):
        port = bench.config.meter.optical
        identity["meter"]["optical"] = port
        # open the port now: a missing one is a bench fault, a silent meter is not
        opened(f"optical port ({port})", lambda: bench.optical)
    return clock


@dataclass
class MeterUp:
    """What the meter's bring-up found: `error` (not up: why), `warning` (up, with errors),
    `optical_fault` (up, but its optical link is outside IEC 62056-21: only the tests that
    judge the link can run) and what it said of itself (`found`, for the record's identity:
    manufacturer, identification, pan_read, firmware)."""

    error: str | None = None
    warning: str | None = None
    optical_fault: str | None = None
    found: dict[str, str] = field(default_factory=dict)


def bring_up_meter(bench: Any, config: Any, profile: Any) -> MeterUp:
    """Power the meter, sign on, read its identity facts; never raises for the meter."""
    from drivers.instruments import InstrumentError
    from drivers.optical import NoAnswerError, OpticalError

    up = MeterUp()
    # the bench's own config: on an emulated bench only it names the pty the emulator
    # announced (the bench file's port is None there)
    port = bench.config.meter.optical
    if not bench.has("optical"):
        up.error = "meter bring-up failed: the bench has no optical port"
        return up
    try:
        if bench.has("source") and not config.safety.terminals_open:
            source = bench.instrument("source")
            source.voltage = profile.ratings.voltage_v
            source.frequency = profile.ratings.frequency_hz
            if not source.output:
                source.output = True
                time.sleep(min(1.0, 1.0 / max(float(bench.speed), 1e-3)))
        started = time.monotonic()
        ident = bench.optical.identify()
        up.optical_fault = slow_sign_on(port, ident, time.monotonic() - started)
    except NoAnswerError as exc:
        if not bench.has("source"):
            supply = "the bench has no AC source to power it"
        elif config.safety.terminals_open:
            supply = "safety.terminals_open: the rig did not switch the AC source on"
        else:
            supply = "the AC source output is on"
        up.error = (f"meter bring-up failed: no answer on the optical port {port} "
                    f"({supply}): {exc}")
        return up
    except (OpticalError, InstrumentError, OSError) as exc:
        up.error = f"meter bring-up failed: {exc}"
        return up
    up.found["manufacturer"] = ident.manufacturer
    up.found["identification"] = ident.ident
    _read_identity_facts(up, bench, profile, port)
    return up


def _read_identity_facts(up: MeterUp, bench: Any, profile: Any, port: Any) -> None:
    """The PAN and firmware, where the profile declares them, read as a plan would."""
    from drivers.optical import OpticalError
    from rig.meter.fact_resolver import FactResolver

    warnings = []
    facts = FactResolver(profile, bench)  # read only what the model declares
    for key, fact in (("pan_read", "meter_pan"), ("firmware", "firmware")):
        if not facts.offers(fact):
            continue
        try:
            up.found[key] = str(facts.value(fact))
        except (OpticalError, ValueError) as exc:
            warnings.append(f"{facts.describe(fact)}: {exc}")
            if isinstance(exc, LINK_ERRORS) and up.optical_fault is None:
                up.optical_fault = (
                    f"the meter's optical port ({port}) identified itself, but a register "
                    f"read at bring-up failed on the link ({facts.describe(fact)}: {exc}): "
                    "every read of the plan would fail the same way after its retries, so "
                    "only the tests that judge the optical link are run")
    if warnings:
        up.warning = "meter answered at bring-up, with errors: " + "; ".join(warnings)


def slow_sign_on(port: Any, ident: Any, elapsed: float) -> str | None:
    """Why the optical link is unusable for the plan when the sign-on was answered later
    than the standard allows (every read of the plan would wait as long, and longer,
    retried), else None: said once, so only the tests that judge the link run, instead of
    the plan running into its timeouts test by test."""
    from drivers.optical import wire_time

    answer = 1 + len(ident.manufacturer) + 1 + len(ident.ident) + 2
    answer += 2 if getattr(ident, "enhanced", None) else 0
    reaction = elapsed - wire_time(answer, 300)
    if reaction > MAX_REACTION_S + HOST_SLACK_S:
        return (f"the meter's optical port ({port}) answered its sign-on after "
                f"{reaction:.1f} s, past the {MAX_REACTION_S:g} s IEC 62056-21 allows "
                "(6.3.14, tr): every read of the plan would wait as long, so only the tests "
                "that judge the optical link are run")
    return None
