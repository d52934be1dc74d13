"""The fixtures a plan asks for: the bench, its devices, the vendor, the record.

A test asks only for what it uses; a device absent from the bench skips the test with the
reason, and a meter that did not come up skips every test that needs it with the reason the
session remembered. Loaded by `rig.plugin` (its `pytest_plugins`), never on its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rig.bench.session import BenchFault, RigSession
from rig.record.run_record import Recorder

SESSION = pytest.StashKey[RigSession]()
RECORDER = pytest.StashKey[Recorder]()
PLOTS = pytest.StashKey[list[tuple[str, bytes]]]()


def rig_session(config: pytest.Config) -> RigSession:
    return config.stash[SESSION]


def _session(request: pytest.FixtureRequest) -> RigSession:
    session = rig_session(request.config)
    try:
        session.load_config()
    except BenchFault as exc:
        pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return session


def _bench(request: pytest.FixtureRequest) -> Any:
    session = _session(request)
    try:
        return session.require_bench()
    except BenchFault as exc:
        pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def bench_config(request: pytest.FixtureRequest) -> Any:
    """The parsed bench file (`rig.bench.config.BenchConfig`)."""
    return _session(request).bench_config


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Any:
    """The meter's declared values (`meterprofile.MeterProfile`)."""
    return _session(request).profile


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest) -> Any:
    """The open bench (`rig.bench.devices.Bench`), put back safe after the session."""
    return _bench(request)


def meter_bench(request: pytest.FixtureRequest) -> Any:
    """The open bench, once its meter answered; otherwise the test is skipped with the reason
    the session remembered from the one bring-up attempt (for fixtures such as `dut`)."""
    bench = _bench(request)
    session = rig_session(request.config)
    session.require_meter()
    if session.meter_error:
        pytest.skip(session.meter_error)
    return bench


@pytest.fixture(scope="session")
def optical(request: pytest.FixtureRequest) -> Any:
    """The meter's optical port (`drivers.optical.OpticalPort`)."""
    return meter_bench(request).optical


@pytest.fixture(scope="session")
def keypad(request: pytest.FixtureRequest) -> Any:
    """The keypad injector (`drivers.keypad.KeypadInjector`)."""
    bench = _bench(request)
    if not bench.has("keypad"):
        pytest.skip(f"no keypad injector on this bench ({bench.config.path.name} has no "
                    "[keypad] port)")
    return bench.keypad


def _instrument(request: pytest.FixtureRequest, role: str) -> Any:
    bench = _bench(request)
    if not bench.has(role):
        pytest.skip(f"no {role} on this bench ({bench.config.path.name} has no "
                    f"[instruments.{role}])")
    return bench.instrument(role)


@pytest.fixture(scope="session")
def source(request: pytest.FixtureRequest) -> Any:
    """The AC source that feeds the meter."""
    return _instrument(request, "source")


@pytest.fixture(scope="session")
def load(request: pytest.FixtureRequest) -> Any:
    """The AC electronic load behind the meter's relay."""
    return _instrument(request, "load")


@pytest.fixture(scope="session")
def dmm(request: pytest.FixtureRequest) -> Any:
    """The DMM at the load terminals."""
    return _instrument(request, "dmm")


@pytest.fixture(scope="session")
def scope(request: pytest.FixtureRequest) -> Any:
    """The oscilloscope (CH1 load voltage, CH2 injector sync)."""
    return _instrument(request, "scope")


@pytest.fixture(scope="session")
def vendor(request: pytest.FixtureRequest) -> Any:
    """Tokens for the meter on the bench (`rig.meter.vendor.BenchVendor`), TIDs increasing
    across the run; `.with_key(...)` / `.for_meter(...)` for other keys."""
    from rig.meter.vendor import VendingKeyError

    session = _session(request)
    try:
        return session.vendor()
    except (VendingKeyError, ValueError) as exc:
        pytest.skip(f"no vendor for the bench meter: {exc}")


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Recorder:
    """`record(name, value, unit, low=, high=, *, nominal=, at=) -> Measurement`."""
    session = rig_session(request.config)
    recorder = Recorder(request.node.nodeid, session.write_measurement, session.bench_time)
    request.node.stash[RECORDER] = recorder
    return recorder


@pytest.fixture
def attach_plot(request: pytest.FixtureRequest) -> Callable[[Any, str], None]:
    """`attach_plot(fig_or_png_bytes, title)`: the plot goes in the test's report entry."""
    plots: list[tuple[str, bytes]] = []
    request.node.stash[PLOTS] = plots

    def attach(fig_or_png: Any, title: str = "") -> None:
        if isinstance(fig_or_png, bytes | bytearray):
            png = bytes(fig_or_png)
            if not png.startswith(b"\x89PNG"):
                raise ValueError("attach_plot: bytes given are not a PNG image")
        elif hasattr(fig_or_png, "savefig"):
            from rig.record.plots import figure_png

            png = figure_png(fig_or_png)
        else:
            raise TypeError(f"attach_plot takes a matplotlib figure or PNG bytes, "
                            f"not {type(fig_or_png).__name__}")
        plots.append((str(title), png))

    return attach


ANSWERS = pytest.StashKey[Any]()


@pytest.fixture
def operator(request: pytest.FixtureRequest, record: Recorder) -> Any:
    """The person at the bench (`rig.bench.operator_steps.Operator`): instruct / confirm / observe.
    Answers come from `--answers FILE`, else from a person at the terminal (output capture
    suspended for the question); with neither, the step skips the test ("needs an
    operator"). Each answer goes to the record (kind "operator") and the test's table."""
    from rig.bench.operator_steps import Answer, EmulatorControl, Operator, TerminalPrompter

    session = rig_session(request.config)
    answers = _answers_file(request.config)
    capman = request.config.pluginmanager.getplugin("capturemanager")

    @contextmanager
    def suspend() -> Iterator[None]:
        """For the question: no progress line redrawn over it, pytest's capture lifted."""
        from rig.plugin.progress import held

        with held(request.config):
            if capman is None:
                yield
            else:
                with capman.global_and_fixture_disabled():
                    yield

    terminal = TerminalPrompter(input, lambda: sys.stdin is not None and sys.stdin.isatty(),
                                suspend)
    bench = session.bench
    control = None
    if bench is not None and bench.emulated and bench.emulator.endpoints.get("control"):
        control = EmulatorControl(bench.emulator.endpoints["control"])

    def on_answer(answer: Answer) -> None:
        if session.record is not None:
            session.record.write("operator", test=request.node.nodeid, **answer.as_record())
        # and a row of the test's table (the report is built from the measurement lines)
        record(f"operator-observed ({answer.step}): {answer.question}", answer.answer)

    def unavailable(exc: Exception) -> None:
        pytest.skip(str(exc))

    return Operator(answers=answers, terminal=terminal, on_answer=on_answer, emulator=control,
                    unavailable=unavailable)


def _answers_file(config: pytest.Config) -> Any:
    """The run's answers file, parsed once; a bad one stops the run naming each bad line."""
    from rig.bench.operator_steps import AnswersFile, AnswersFileError

    path = getattr(config.option, "answers", None)
    if not path:
        return None
    if ANSWERS not in config.stash:
        try:
            config.stash[ANSWERS] = AnswersFile.load(path)
        except AnswersFileError as exc:
            pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return config.stash[ANSWERS]


# The `dut` fixture belongs to the strategy layer (rig/meter/under_test.py);
# re-exported for the plugin.
from rig.meter.under_test import dut  # noqa: E402, F401
