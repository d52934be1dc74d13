"""The STS Rig pytest plugin: bench options and fixtures, the run record, the report.

Registered through the `pytest11` entry point. It stays inert in a session whose tests carry
no `clause` marker (the project's own tests): it then starts no bench and writes no report.
In a plan session it loads the bench file (a bad one stops the run before any test with one
message), brings the bench up (starting the emulated bench as a subprocess when no real one
is named), writes `results.jsonl` as the run goes, and adds the bench identity, the declared
values, per-test clauses, measurements and plots, and the clause matrix to the HTML report.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from rig import __version__
from rig.records import Recorder, ResultsFile

STATE = pytest.StashKey["RigSession"]()
RECORDER = pytest.StashKey[Recorder]()
PLOTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "STS Rig bench")
    group.addoption("--bench", default=None, help="bench TOML (default: the emulated bench)")
    group.addoption("--speed", type=float, default=None,
                    help="emulated bench clock speed (default: the bench file's)")
    group.addoption("--fault", action="append", default=[], metavar="NAME",
                    help="switch on an emulator fault (emulated bench only; repeatable)")
    group.addoption("--allow-expired-calibration", action="store_true",
                    help="use instruments past their calibration due date")
    group.addoption("--rig-report-dir", default="reports",
                    help="where run directories are written (default: reports/)")
    group.addoption("--rig-run-id", default=None, help="name of this run's directory")
    group.addoption("--rig-only-faults", default=None, metavar="NAME[,NAME]",
                    help="run only the plan tests marked to catch these faults")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(*refs): clauses of IEC 62055 / SPLN D3.009-1 a plan test checks")
    config.addinivalue_line(
        "markers", "faults(*names): emulator faults this plan test is meant to catch")
    state = RigSession(config)
    config.stash[STATE] = state
    config.pluginmanager.register(ResultHooks(state), "rig-results")


class RigSession:
    """Everything the plugin keeps for one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.active = False
        self.run_dir: Path | None = None
        self.results: ResultsFile | None = None
        self.bench_config: Any = None
        self.bench: Any = None
        self.profile: Any = None
        self.bring_up_error: str | None = None
        self.bring_up_warning: str | None = None
        self.meter_firmware: str | None = None
        self.stack = ExitStack()
        self.tests: dict[str, dict[str, Any]] = {}
        self.vendor: Any = None

    # --- start ----------------------------------------------------------------------------

    def activate(self, items: list[pytest.Item]) -> None:
        from meterprofile import load_profile
        from rig.config import ConfigError, load_bench

        opt = self.config.option
        try:
            self.bench_config = load_bench(opt.bench)
            self.profile = load_profile(self._profile_ref())
        except (ConfigError, ValueError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"rig: {exc}") from None
        self.active = True
        run_id = opt.rig_run_id or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_dir = Path(opt.rig_report_dir) / run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (Path(opt.rig_report_dir) / "LATEST").write_text(run_id + "\n")
        self.results = ResultsFile(self.run_dir / "results.jsonl")
        self.results.write("run_start", run_id=run_id, rig_version=__version__,
                           bench_file=str(self.bench_config.path),
                           profile=self.profile.name, tests=len(items),
                           faults=list(opt.fault), speed=opt.speed)
        for item in items:
            self.tests[item.nodeid] = {"clauses": clauses_of(item), "outcome": "not run",
                                       "faults": faults_of(item)}

    def _profile_ref(self) -> str:
        ref = self.bench_config.meter.profile
        candidate = (self.bench_config.path.parent / ref)
        return str(candidate) if candidate.suffix == ".toml" and candidate.exists() else ref

    def bring_up(self) -> None:
        """Open the bench; instruments that do not answer stop the run, a silent meter
        skips the tests that need it."""
        from drivers.instruments import InstrumentError
        from drivers.keypad import KeypadError
        from drivers.optical import NoAnswerError, OpticalError
        from rig.bench import BenchError, open_bench

        opt = self.config.option
        try:
            self.bench = self.stack.enter_context(open_bench(
                self.bench_config, speed=opt.speed, faults=opt.fault,
                allow_expired_calibration=opt.allow_expired_calibration))
            for role in self.bench_config.instruments:
                self.bench.instrument(role)
            if self.bench.has("keypad"):
                _ = self.bench.keypad
        except (BenchError, InstrumentError, KeypadError, OSError, ValueError) as exc:
            self.stack.close()
            self.bench = None
            self._record_bench()
            pytest.exit(f"rig: bench bring-up failed: {exc}", returncode=3)
        try:
            if self.bench.has("source"):
                source = self.bench.instrument("source")
                source.voltage = self.profile.ratings.voltage_v
                source.output = True
                import time

                time.sleep(2.0 / self.bench.speed)
            self.bench.optical.identify()
            self.bench.optical.read("C.1.0")
            try:
                self.meter_firmware = self.bench.optical.read("0.2.0").value
            except OpticalError:
                self.meter_firmware = None  # not every meter gives its firmware version
        except (NoAnswerError, InstrumentError, OSError) as exc:
            self.bring_up_error = f"meter bring-up failed: {exc}"
        except OpticalError as exc:  # the meter answers, wrongly: the tests will say where
            self.bring_up_warning = f"meter answered at bring-up, with an error: {exc}"
        self._record_bench()

    def _record_bench(self) -> None:
        identity = self.bench.identity() if self.bench is not None else {}
        if self.meter_firmware:
            identity["meter_firmware"] = self.meter_firmware
        if self.results:
            self.results.write("bench", identity=identity, bring_up_error=self.bring_up_error,
                               bring_up_warning=self.bring_up_warning,
                               declared=self.profile.as_table() if self.profile else [])
        try:
            from pytest_metadata.plugin import metadata_key

            meta = self.config.stash[metadata_key]
            meta["Rig version"] = __version__
            meta["Bench file"] = str(self.bench_config.path)
            meta["Meter PAN"] = self.bench_config.meter.pan
            meta["Meter profile"] = self.profile.name
        except (ImportError, KeyError):
            pass

    def close(self) -> None:
        self.stack.close()


def clauses_of(item: pytest.Item) -> list[str]:
    return [str(ref) for mark in item.iter_markers("clause") for ref in mark.args]


def faults_of(item: pytest.Item) -> list[str]:
    return [str(name) for mark in item.iter_markers("faults") for name in mark.args]


# --- collection and session --------------------------------------------------------------------


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    only = config.option.rig_only_faults
    if only:
        wanted = set(only.split(","))
        keep = [i for i in items if wanted & set(faults_of(i))]
        drop = [i for i in items if i not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if any(clauses_of(item) for item in items):
        config.stash[STATE].activate(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if state.active and state.tests:
        state.bring_up()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash[STATE]
    if not state.active:
        return
    if state.bench is not None:
        state._record_bench()
    matrix = clause_matrix(state.tests)
    counts: dict[str, int] = {}
    for test in state.tests.values():
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    if state.results:
        state.results.write("run_end", counts=counts, exitstatus=int(exitstatus),
                            clause_matrix=matrix)
    state.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.active:
        return
    if state.results:
        state.results.close()
    htmlpath = getattr(config.option, "htmlpath", None)
    if htmlpath and Path(htmlpath).exists():
        append_to_report(Path(htmlpath), state)


def clause_matrix(tests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each clause, its tests and its verdict (FAIL if any failed, PASS if all passed)."""
    by_clause: dict[str, list[tuple[str, str]]] = {}
    for nodeid, test in tests.items():
        for clause in test["clauses"]:
            by_clause.setdefault(clause, []).append((nodeid, test["outcome"]))
    rows = []
    for clause in sorted(by_clause):
        outcomes = [o for _, o in by_clause[clause]]
        if "failed" in outcomes:
            verdict = "FAIL"
        elif all(o == "passed" for o in outcomes):
            verdict = "PASS"
        elif any(o == "passed" for o in outcomes):
            verdict = "PARTLY SKIPPED"
        else:
            verdict = "NOT TESTED"
        rows.append({"clause": clause, "verdict": verdict,
                     "tests": [{"test": n, "outcome": o} for n, o in by_clause[clause]]})
    return rows


# --- per test ----------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    state = item.config.stash[STATE]
    if not state.active:
        return
    recorder = item.stash.get(RECORDER, None)
    report.rig_clauses = clauses_of(item)
    if report.when == "call" and recorder is not None:
        failed = recorder.failed
        if failed and report.passed:
            report.outcome = "failed"
            report.longrepr = "measurements outside their limits: " + "; ".join(
                f"{m.name} = {m.value} {m.unit} (limits {m.limits_text()})" for m in failed)
        extras = getattr(report, "extras", [])
        try:
            from pytest_html import extras as html_extras

            extras.append(html_extras.html(measurement_table(item, recorder)))
            for title, png in item.stash.get(PLOTS, []):
                extras.append(html_extras.png(base64.b64encode(png).decode("ascii"), title))
        except ImportError:
            pass
        report.extras = extras


class ResultHooks:
    """Writes each test outcome to the results file as it happens."""

    def __init__(self, state: RigSession) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        log_outcome(self.state, report)


def log_outcome(state: RigSession, report: pytest.TestReport) -> None:
    if not state.active or report.nodeid not in state.tests:
        return
    test = state.tests[report.nodeid]
    if report.when == "call" or (report.when == "setup" and not report.passed) or (
            report.when == "teardown" and report.failed):
        outcome = report.outcome if report.when == "call" or report.failed else "skipped"
        if test["outcome"] != "failed":
            test["outcome"] = outcome
        if state.results:
            reason = ""
            if report.longrepr is not None and not report.passed:
                reason = str((getattr(report.longrepr, "reprcrash", None)
                             and report.longrepr.reprcrash.message) or report.longrepr)[-500:]
            state.results.write("test", test=report.nodeid, phase=report.when,
                                outcome=outcome, duration=report.duration,
                                clauses=test["clauses"], reason=reason)


def measurement_table(item: pytest.Item, recorder: Recorder) -> str:
    clauses = ", ".join(html.escape(c) for c in clauses_of(item)) or "-"
    rows = "".join(
        f"<tr><td>{html.escape(m.name)}</td><td>{html.escape(str(m.value))}</td>"
        f"<td>{html.escape(m.unit)}</td><td>{html.escape(m.limits_text())}</td>"
        f"<td class='{m.verdict.lower()}'>{m.verdict}</td></tr>"
        for m in recorder.measurements)
    table = (f"<table class='rig-measurements'><tr><th>measurement</th><th>value</th>"
             f"<th>unit</th><th>limits</th><th>verdict</th></tr>{rows}</table>"
             if rows else "<p>no measurements</p>")
    return f"<div class='rig'><p><b>Clauses:</b> {clauses}</p>{table}</div>"


# --- pytest-html ------------------------------------------------------------------------------


def pytest_html_report_title(report: Any) -> None:
    report.title = "STS Rig conformance report"


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, "<th>Clause</th>")


def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    clauses = getattr(report, "rig_clauses", [])
    cells.insert(2, f"<td>{html.escape('; '.join(clauses))}</td>")


def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or not state.active:
        return
    identity = state.bench.identity() if state.bench is not None else {}
    if state.meter_firmware:
        identity["meter_firmware"] = state.meter_firmware
    rows = []
    for key, value in identity.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items() if v is not None)
        rows.append(f"<tr><td>{html.escape(str(key))}</td>"
                    f"<td>{html.escape(str(value))}</td></tr>")
    rows.append(f"<tr><td>rig version</td><td>{html.escape(__version__)}</td></tr>")
    if state.bring_up_error:
        rows.append(f"<tr><td>bring-up</td><td>{html.escape(state.bring_up_error)}</td></tr>")
    prefix.append("<h2>Bench identity</h2><table class='rig-identity'>" + "".join(rows)
                  + "</table>")
    declared = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td>"
                       f"<td>{html.escape(u)}</td></tr>" for k, v, u in state.profile.as_table())
    prefix.append(f"<h2>Declared values ({html.escape(state.profile.name)})</h2>"
                  "<details><summary>the meter profile the plans test against</summary>"
                  f"<table class='rig-declared'>{declared}</table></details>")


def append_to_report(path: Path, state: RigSession) -> None:
    """Put the clause matrix at the end of the HTML report."""
    rows = []
    for row in clause_matrix(state.tests):
        tests = "<br>".join(f"{html.escape(t['test'])}: {t['outcome']}" for t in row["tests"])
        colour = {"PASS": "#2a2", "FAIL": "#c22"}.get(row["verdict"], "#888")
        rows.append(f"<tr><td>{html.escape(row['clause'])}</td>"
                    f"<td style='color:{colour};font-weight:bold'>{row['verdict']}</td>"
                    f"<td>{tests}</td></tr>")
    section = ("<section id='clause-matrix' style='margin:2em'><h2>Clause matrix</h2>"
               "<table border='1' cellpadding='4' style='border-collapse:collapse'>"
               "<tr><th>clause</th><th>verdict</th><th>tests</th></tr>"
               + "".join(rows) + "</table></section>")
    text = path.read_text(encoding="utf-8")
    marker = "</body>"
    text = text.replace(marker, section + marker, 1) if marker in text else text + section
    path.write_text(text, encoding="utf-8")


# --- fixtures ---------------------------------------------------------------------------------


def _state(request: pytest.FixtureRequest) -> RigSession:
    state = request.config.stash[STATE]
    if not state.active:
        pytest.skip("STS Rig plan fixtures need a test with a clause marker")
    return state


@pytest.fixture(scope="session")
def bench_config(request: pytest.FixtureRequest) -> Any:
    return _state(request).bench_config


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest) -> Any:
    state = _state(request)
    if state.bench is None:
        pytest.skip("the bench is not up")
    return state.bench


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> Any:
    return _state(request).profile


def _device(request: pytest.FixtureRequest, bench: Any, role: str) -> Any:
    if not bench.has(role):
        pytest.skip(f"no {role} on this bench")
    return bench.instrument(role)


@pytest.fixture
def source(request: pytest.FixtureRequest, bench: Any) -> Any:
    return _device(request, bench, "source")


@pytest.fixture
def load(request: pytest.FixtureRequest, bench: Any) -> Any:
    return _device(request, bench, "load")


@pytest.fixture
def dmm(request: pytest.FixtureRequest, bench: Any) -> Any:
    return _device(request, bench, "dmm")


@pytest.fixture
def scope(request: pytest.FixtureRequest, bench: Any) -> Any:
    return _device(request, bench, "scope")


@pytest.fixture
def optical(request: pytest.FixtureRequest, bench: Any) -> Any:
    state = _state(request)
    if state.bring_up_error:
        pytest.skip(state.bring_up_error)
    return bench.optical


@pytest.fixture
def keypad(request: pytest.FixtureRequest, bench: Any) -> Any:
    if not bench.has("keypad"):
        pytest.skip("no keypad injector on this bench")
    return bench.keypad


@pytest.fixture(scope="session")
def vendor(request: pytest.FixtureRequest) -> Any:
    from rig.vendor import BenchVendor

    state = _state(request)
    if state.vendor is None:
        try:
            state.vendor = BenchVendor.for_bench(state.bench_config)
        except ValueError as exc:
            pytest.skip(f"no vending key: {exc}")
    return state.vendor


@pytest.fixture
def dut(request: pytest.FixtureRequest, bench: Any, profile: Any) -> Any:
    from rig.dut import MeterUnderTest

    state = _state(request)
    if state.bring_up_error:
        pytest.skip(state.bring_up_error)
    if not bench.has("keypad"):
        pytest.skip("no keypad injector on this bench")
    meter = MeterUnderTest(bench, profile)
    meter.prepare()
    return meter


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Recorder:
    state = request.config.stash[STATE]
    recorder = Recorder(request.node.nodeid, state.results if state.active else None)
    request.node.stash[RECORDER] = recorder
    return recorder


@pytest.fixture
def attach_plot(request: pytest.FixtureRequest) -> Any:
    request.node.stash[PLOTS] = []

    def attach(png: bytes, title: str) -> None:
        request.node.stash[PLOTS].append((title, png))

    return attach


os.environ.setdefault("MPLBACKEND", "Agg")
