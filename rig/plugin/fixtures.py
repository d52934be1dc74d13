"""The fixtures a plan asks for: the bench, its devices, the vendor, the record.

A test asks only for what it uses; a device absent from the bench skips the test with the
reason, and a meter that did not come up skips every test that needs it with the reason the
session remembered. Loaded by `rig.plugin` (its `pytest_plugins`), never on its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from drivers.instruments.registry import roles
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


def _role_fixture(role: str) -> Any:
    """A session fixture named `role` for a role of the model registry (drivers/instruments/)
    that has no fixture written above (e.g. `switch`, `power_meter`): the bench's instrument
    of that role, or a skip naming the missing table."""

    def fixture(request: pytest.FixtureRequest) -> Any:
        return _instrument(request, role)

    fixture.__name__ = role
    fixture.__doc__ = f"The bench's {role.replace('_', ' ')} ([instruments.{role}])."
    return pytest.fixture(scope="session", name=role)(fixture)


for _role in roles():
    if _role not in globals():
        globals()[_role] = _role_fixture(_role)


def _capability(request: pytest.FixtureRequest, offer: Callable[[Any], Any]) -> Any:
    """A capability of the bench (rig.bench.capabilities); a bench that does not offer it
    skips the test, naming the capability."""
    from rig.bench.capabilities import CapabilityNotOffered

    try:
        return offer(_bench(request))
    except CapabilityNotOffered as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def relay_timer(request: pytest.FixtureRequest) -> Any:
    """The time from the ENTER sync edge to the relay's edge on the load voltage."""
    from rig.bench.capabilities import relay_edge_timer

    return _capability(request, relay_edge_timer)


@pytest.fixture(scope="session")
def energy_meter(request: pytest.FixtureRequest) -> Any:
    """The energy the load draws over an interval: a power meter's integrator, else the
    load's power readings."""
    from rig.bench.capabilities import energy_meter as offer

    return _capability(request, offer)


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
    """`record(name, value, unit, low=, high=, *, nominal=, at=, fact=, instrument=,
    reference=, shown=) -> Measurement`; a name the test declared (`@measures`) takes its
    unit, limits, clause and source from the declaration."""
    from rig.record.measures import declared_of

    session = rig_session(request.config)
    recorder = Recorder(request.node.nodeid, session.write_measurement, session.bench_time,
                        declared=declared_of(request.node),
                        fact_source=lambda fact: _fact_source(session, fact),
                        limit_value=lambda name: _limit_value(session, name),
                        instrument_of=lambda role: _instrument_of(session, role),
                        rule=decision_rule(session))
    request.node.stash[RECORDER] = recorder
    return recorder


def decision_rule(session: RigSession) -> str:
    """The bench file's decision rule (`[report] decision_rule`), simple by default."""
    settings = getattr(session.bench_config, "report", None)
    return getattr(settings, "decision_rule", None) or "simple"


def _fact_source(session: RigSession, fact: str) -> tuple[str, str]:
    """(register/display/instrument/operator, "register C.90.0") of a declared fact."""
    from meterprofile import describe_source

    try:
        src = session.profile.fact_source(fact)
    except (KeyError, ValueError, AttributeError):
        return "", fact
    return str(getattr(src, "source", "") or ""), describe_source(src)


def _limit_value(session: RigSession, name: str) -> Any:
    from rig.record.measures import resolve_limit

    return resolve_limit(name, session.profile)


def _instrument_of(session: RigSession, role: str) -> Any:
    """The bench's open instrument in `role`, or its model name from the bench file."""
    bench = session.bench
    if bench is not None and bench.has(role):
        return bench.instrument(role)
    inst = session.bench_config.instruments.get(role) if session.bench_config else None
    if inst is None:
        raise ValueError(f"a measurement is declared on the {role}, and this bench has none")
    return inst.model


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
    answers = _answers_file(request.config) or _emulated_answers(request, session)
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
        record(f"operator-observed ({answer.step}): {answer.question}", answer.answer,
               source="operator", obtained=f"operator ({answer.source})")

    def unavailable(exc: Exception) -> None:
        pytest.skip(str(exc))

    return Operator(answers=answers, terminal=terminal, on_answer=on_answer, emulator=control,
                    unavailable=unavailable)


#: `--answers none`: no answers file, not even the emulated bench's (its steps then skip)
NO_ANSWERS = "none"
EMULATED_ANSWERS = Path("answers") / "emulated.txt"


def _emulated_answers(request: pytest.FixtureRequest, session: RigSession) -> Any:
    """On the emulated bench, with no --answers: the bench answers its own operator steps
    (the plan folder's answers/emulated.txt, acted by the emulator), so a plain `rig run`
    runs the whole plan. A real bench gets no default: a person or a file answers."""
    from rig.bench.operator_steps import AnswersFile, AnswersFileError

    config = session.bench_config
    if getattr(request.config.option, "answers", None) == NO_ANSWERS or config is None \
            or not config.bench.emulated:
        return None
    path = Path(str(request.node.path)).parent / EMULATED_ANSWERS
    if not path.is_file():
        return None
    if ANSWERS not in request.config.stash:
        try:
            request.config.stash[ANSWERS] = AnswersFile.load(path)
        except AnswersFileError as exc:
            pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return request.config.stash[ANSWERS]


def _answers_file(config: pytest.Config) -> Any:
    """The run's answers file, parsed once; a bad one stops the run naming each bad line."""
    from rig.bench.operator_steps import AnswersFile, AnswersFileError

    path = getattr(config.option, "answers", None)
    if not path or path == NO_ANSWERS:
        return None
    if ANSWERS not in config.stash:
        try:
            config.stash[ANSWERS] = AnswersFile.load(path)
        except AnswersFileError as exc:
            pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return config.stash[ANSWERS]


# --- the meter under test ---------------------------------------------------------------------

_DISPLAY = pytest.StashKey[Any]()
_ENTRIES = pytest.StashKey[Any]()  # the run's one EntryLog: refusals carry across tests


@pytest.fixture
def dut(request: pytest.FixtureRequest, profile: Any, operator: Any) -> Any:
    """The meter under test (`rig.meter.under_test.MeterUnderTest`), in a known state."""
    import logging

    from rig.meter.under_test import EntryLog, MeterUnderTest, open_display

    bench = meter_bench(request)
    why = rig_session(request.config).optical_fault
    if why and request.node.get_closest_marker("judges_optical_link") is None:
        pytest.skip(why)  # found once at bring-up: no test waits on that port again
    if not bench.has("keypad"):
        pytest.skip("no keypad injector on this bench: the meter cannot be driven")
    stash = request.config.stash
    if _DISPLAY not in stash:
        try:
            stash[_DISPLAY] = open_display(bench, profile)
        except Exception as exc:  # a camera that does not answer: display facts unusable
            logging.getLogger("rig.meter.under_test").warning(
                "the display camera did not open: %s", exc)
            stash[_DISPLAY] = None
    if _ENTRIES not in stash:
        stash[_ENTRIES] = EntryLog()
    meter = MeterUnderTest(bench, profile, display=stash[_DISPLAY], operator=operator,
                           entries=stash[_ENTRIES])
    if RECORDER in request.node.stash:  # a fact judged on an instrument: its reading and U
        request.node.stash[RECORDER].fact_basis = meter.facts.basis
    meter.prepare()
    return meter


# --- a fact the meter does not offer skips the test, naming the fact ----------------------------

def _skip_not_offered(exc: BaseException | None) -> None:
    from rig.meter.sources import FactNotOffered

    if isinstance(exc, FactNotOffered):
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    except Exception as exc:
        _skip_not_offered(exc)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    except Exception as exc:
        _skip_not_offered(exc)
        raise
