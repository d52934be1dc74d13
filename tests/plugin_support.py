"""Helpers of the plugin tests: run a throwaway plan in-process with pytester, quickly.

pytester drops the modules a run imported once the run is over; importing the rig's
modules here first keeps them (one import for all runs instead of one per run), and the
plans run with plain asserts, so pytest does not rewrite every module of our distribution
again for each run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import emulator.setup  # noqa: F401 -- preloaded, see above
import meterprofile  # noqa: F401
import rig.bench.devices
import rig.meter.under_test
import rig.meter.vendor
import rig.plugin
import rig.record.plots
import rig.record.pytest_html

FAST = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--assert=plain")


def run_plan(pytester: Any, *args: str, run_id: str | None = None, html: bool = True) -> Any:
    """Run the plan files in pytester's directory; with a run id, into reports/<id>/ with
    report.html and junit.xml beside results.jsonl."""
    extra: list[str] = []
    if run_id is not None:
        run = pytester.path / "reports" / run_id
        extra = [f"--rig-run-id={run_id}", f"--junitxml={run / 'junit.xml'}"]
        if html:
            extra += [f"--html={run / 'report.html'}", "--self-contained-html"]
    return pytester.runpytest_inprocess(*FAST, *extra, *args)


def lines(run: Path) -> list[dict]:
    """The objects of a run's results.jsonl."""
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def short(test_id: str) -> str:
    return test_id.split("::")[-1]


def _refuse_bench(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a record-only plan opened the bench")


def refuse_bench(monkeypatch: Any) -> None:
    """Make any attempt to open a bench fail the plan run loudly."""
    monkeypatch.setattr(rig.bench.devices, "open_bench", _refuse_bench)


def readable_text(path: Path) -> str:
    """What a person could read in a run file: a PDF's extracted text, else the file."""
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return path.read_text(encoding="utf-8", errors="replace")
