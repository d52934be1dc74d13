"""Progress of a plan run: the test running, the time elapsed in it and in the run, and an
estimate of what is left.

At real speed a plan takes hours and one test (a depletion, a lock-out wait) many minutes,
while pytest shows nothing until a test ends. `RigProgress` is a pytest plugin object that,
on a terminal, keeps a status line below pytest's output, refreshed about once a second.
Without a terminal (a CI log) it writes one plain line per test instead, no escape codes,
pytest's outcome letter at its end (pytest's own file name lines are left out):

    [3/31] testplans/test_credit.py::test_x - run 00:01:12 elapsed, about 00:04:30 left .

Times are wall-clock time, what a tester waits; the bench time (the emulated bench runs
faster than real time) is added in brackets when it differs. The estimate adds the expected
duration of each test not done yet: its duration in the newest earlier run in the reports
folder that ran it (`results.jsonl`), scaled by how this run compares with those runs on the
tests done so far, or the mean duration of the tests done so far for a test no earlier run
had. Off with `-p no:rig-progress` or `--rig-progress=off`; `--rig-progress=lines` forces the
plain lines on a terminal too.

The status line is the bottom row of the terminal, kept out of the scrolling region (blessed
gives the terminal's capabilities); it is drawn between a save and a restore of the cursor,
so pytest's half-written line of dots stays as it was. (enlighten, made for such bars, asks
the terminal where the cursor is and reads the answer from stdin, from the refresh thread:
that would eat an operator's keystrokes at a prompt, and wait a second per refresh on a
terminal that does not answer.) An operator prompt holds the refresh with `hold()`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest

PLUGIN_NAME = "rig-progress"
MODES = ("auto", "lines", "off")
REFRESH_S = 1.0
PREVIOUS_RUNS = 10  # how many earlier runs are read for per-test durations
BENCH_DIFFERS_S = 1.0  # bench and wall time shown apart past this difference

BenchNow = Callable[[], "float | None"]


@dataclass
class Span:
    """Where a stretch of time (a run, a test) started, on the wall clock and the bench's.
    The bench clock may be read for the first time later than the start (no bench yet)."""

    wall0: float
    bench0: float | None = None
    bench_wall0: float = 0.0

    def see_bench(self, bench: float | None, wall: float) -> None:
        if self.bench0 is None and bench is not None:
            self.bench0, self.bench_wall0 = bench, wall

    def text(self, wall: float, bench: float | None) -> str:
        """`00:01:12`, with ` (bench 04:00:00)` when the bench clock ran at another rate."""
        out = hms(wall - self.wall0)
        if bench is not None and self.bench0 is not None:
            on_bench = bench - self.bench0
            if abs(on_bench - (wall - self.bench_wall0)) >= BENCH_DIFFERS_S:
                out += f" (bench {hms(on_bench)})"
        return out


def hms(seconds: float) -> str:
    """`01:02:03` for 3723 s (hours are not wrapped at 24)."""
    whole = max(0, round(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def previous_durations(report_dir: Path, *, before: float,
                       runs: int = PREVIOUS_RUNS) -> dict[str, float]:
    """Test id -> duration (s) from the `test` lines of the newest earlier runs' results.jsonl
    (files last written before `before`, a `time.time()`); the newest run's figure wins. A
    line cut short by a killed run is skipped."""
    try:
        files = [(p.stat().st_mtime, p) for p in report_dir.glob("*/results.jsonl")]
    except OSError:
        return {}
    durations: dict[str, float] = {}
    for _, path in sorted((f for f in files if f[0] < before), reverse=True)[:runs]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            test, duration = entry.get("test"), entry.get("duration")
            if entry.get("kind") == "test" and isinstance(duration, int | float) \
                    and isinstance(test, str) and test not in durations:
                durations[test] = float(duration)
    return durations


def estimate_left(remaining: Sequence[str], done: dict[str, float],
                  previous: dict[str, float], running_for: float = 0.0) -> float | None:
    """Seconds left for `remaining` (the running test first, `running_for` s into it).

    A test an earlier run had is expected to take its earlier duration times the ratio of
    this run's to the earlier durations of the tests done so far (1 before any); another
    test the mean duration of the tests done so far. None when a test has neither."""
    matched = [n for n in done if previous.get(n, 0.0) > 0.0]
    ratio = (sum(done[n] for n in matched) / sum(previous[n] for n in matched)
             if matched else 1.0)
    mean = sum(done.values()) / len(done) if done else None
    total = 0.0
    for index, nodeid in enumerate(remaining):
        expected = previous[nodeid] * ratio if nodeid in previous else mean
        if expected is None:
            return None
        total += max(expected - running_for, 0.0) if index == 0 else expected
    return total


class StatusLine:
    """The bottom row of a terminal as a status line; output above it scrolls as before."""

    def __init__(self, stream: TextIO) -> None:
        from blessed import Terminal

        self.stream = stream
        self.term = Terminal(kind=os.environ.get("TERM") or "xterm", stream=stream,
                             force_styling=True)
        self.rows = 0

    def _region(self, first: bool) -> str:
        """Keep the bottom row out of the scrolling region (again, after a resize)."""
        rows = self.term.height
        if rows == self.rows or rows < 2:
            return ""
        self.rows = rows
        t = self.term
        # first: a new line makes room, so the reserved row covers nothing pytest wrote
        room = "\n" if first else ""
        back = t.move_up if first else ""
        return f"{room}{t.save}{t.csr(0, rows - 2)}{t.restore}{back}"

    def start(self) -> None:
        self._write(self._region(first=True))

    def show(self, text: str) -> None:
        t = self.term
        region = self._region(first=False)
        if not self.rows:
            return
        width = max(t.width - 1, 10)
        shown = text if len(text) <= width else text[:width - 3] + "..."
        self._write(f"{region}{t.save}{t.move_yx(self.rows - 1, 0)}{shown}{t.clear_eol}"
                    f"{t.restore}")

    def stop(self) -> None:
        """The whole screen scrolls again and the status row is cleared."""
        if self.rows:
            t = self.term
            self._write(f"{t.save}{t.csr(0, t.height - 1)}{t.move_yx(t.height - 1, 0)}"
                        f"{t.clear_eol}{t.restore}")
            self.rows = 0

    def _write(self, data: str) -> None:
        if data:
            self.stream.write(data)
            self.stream.flush()


class RigProgress:
    """The pytest plugin object (registered as "rig-progress" in a plan session).

    `bench_now` gives the bench clock in seconds, or None while there is no bench; `active`
    says, once collection is over, whether this is a plan session at all."""

    def __init__(self, config: pytest.Config, bench_now: BenchNow, *,
                 active: Callable[[], bool] = lambda: True) -> None:
        self.config = config
        self.bench_now = bench_now
        self.active = active
        mode = config.getoption("rig_progress", default="auto") or "auto"
        self.mode = mode if mode in MODES else "auto"
        self.created = time.time()
        self.order: dict[str, int] = {}
        self.done: dict[str, float] = {}
        self.previous: dict[str, float] = {}
        self.current: str | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: StatusLine | None = None
        self._held = 0
        self._stream: TextIO | None = None
        self._lines = False
        self.run = Span(time.monotonic())
        self.test = Span(time.monotonic())
        config.add_cleanup(self.close)

    # --- clocks -------------------------------------------------------------------------

    def _now(self) -> tuple[float, float | None]:
        """(wall, bench) now; both spans learn the bench clock once it is there."""
        wall = time.monotonic()
        try:
            value = self.bench_now()
        except Exception:  # the bench went away: progress is no reason to fail a run
            value = None
        bench = None if value is None else float(value)
        self.run.see_bench(bench, wall)
        self.test.see_bench(bench, wall)
        return wall, bench

    def _left(self, wall: float) -> str:
        index = self.order.get(self.current or "", len(self.done))
        remaining = list(self.order)[index:]
        left = estimate_left(remaining, self.done, self.previous, wall - self.test.wall0)
        return "no estimate before the first test ends" if left is None else \
            f"about {hms(left)} left"

    def _position(self) -> str:
        index = self.order.get(self.current or "", len(self.done))
        return f"[{index + 1}/{len(self.order)}]"

    # --- hooks --------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)  # after rig.plugin has decided this is a plan session
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        config = session.config
        if self.mode == "off" or config.option.collectonly or not self.active() \
                or hasattr(config, "workerinput"):
            return
        self.order = {item.nodeid: n for n, item in enumerate(session.items)}
        report_dir = Path(config.getoption("rig_report_dir", default="reports") or "reports")
        self.previous = previous_durations(report_dir, before=self.created)
        self.run = Span(time.monotonic())
        self._now()
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if self.mode == "auto" and _is_terminal(sys.stdout):
            self._start_bar()
        elif reporter is not None:
            self._lines = True
            # one line per test in a CI log: this plugin's line, then pytest's outcome
            # letter after it on the same line (no file name line of pytest's between)
            reporter.showfspath = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> Iterator[None]:
        with self._lock:  # the terminal reporter's own writes do not cross the bar's
            if self._lines or self._bar is not None:
                self.current = nodeid
                self.test = Span(time.monotonic())
                self._now()
                if self._lines:  # pytest writes the outcome letter after it
                    reporter = self.config.pluginmanager.get_plugin("terminalreporter")
                    writer = getattr(reporter, "_tw", None)
                    if getattr(writer, "width_of_current_line", 1):
                        reporter.write("\n")
                    reporter.write(self.line() + " ", flush=True)
                    # the line is open: whoever writes a line next (a stop, a warning)
                    # starts a new one (pytest's ensure_newline looks at this)
                    reporter.currentfspath = self.config.rootpath / nodeid.split("::")[0]
                else:
                    self._render()
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Iterator[None]:
        with self._lock:
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> Iterator[None]:
        with self._lock:
            result = yield
            if nodeid == self.current:
                self.done[nodeid] = time.monotonic() - self.test.wall0
                self.current = None
                if self._bar is not None:
                    self._render()
            return result

    @pytest.hookimpl(tryfirst=True)  # before the terminal summary is written
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.close()

    # --- output -------------------------------------------------------------------------

    def line(self) -> str:
        """The plain line of the test that just started."""
        wall, bench = self._now()
        return (f"{self._position()} {self.current} - run {self.run.text(wall, bench)} "
                f"elapsed, {self._left(wall)}")

    def status(self) -> str:
        """The status bar's text while a test runs (or between two)."""
        wall, bench = self._now()
        run = f"run {self.run.text(wall, bench)}"
        if self.current is None:
            return f"[{len(self.done)}/{len(self.order)}] done, {run}"
        return (f"{self._position()} {self.current} | test {self.test.text(wall, bench)} | "
                f"{run} | {self._left(wall)}")

    @contextmanager
    def hold(self) -> Iterator[None]:
        """No refresh of the status line meanwhile (an operator prompt, for one)."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1

    def _start_bar(self) -> None:
        # a stream of our own on the terminal: pytest's capture redirects fd 1 during a
        # test, and the line is refreshed while a test runs
        self._stream = os.fdopen(os.dup(sys.stdout.fileno()), "w",
                                 encoding=getattr(sys.stdout, "encoding", None) or "utf-8")
        self._bar = StatusLine(self._stream)
        self._bar.start()
        self._thread = threading.Thread(target=self._refresh, name="rig-progress",
                                        daemon=True)
        self._thread.start()

    def _render(self) -> None:
        if self._bar is not None and not self._held:
            self._bar.show(self.status())

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            with self._lock:
                if self.current is not None:
                    self._render()

    def close(self) -> None:
        """Stop the refresh and give the terminal back (its scroll region too); idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * REFRESH_S)
            self._thread = None
        with self._lock:
            self._lines = False
            if self._bar is not None:
                with suppress(OSError, ValueError):  # the terminal went away
                    self._bar.stop()
                self._bar = None
            if self._stream is not None:
                self._stream.close()
                self._stream = None


def held(config: pytest.Config) -> AbstractContextManager[None]:
    """`with held(config):` no status line refresh meanwhile (for an operator prompt);
    nothing to hold when the progress plugin is off or not registered."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin.hold() if isinstance(plugin, RigProgress) else nullcontext()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") not in ("", "dumb")
    except (AttributeError, ValueError):
        return False
