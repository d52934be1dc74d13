"""Helpers of the report tests: the recorded run records, and the PDF's text per page.

`tests/data/report/partial_k.jsonl` is the record of a real `rig run -k "shown_values or
depletion"` on the emulated bench (29 tests deselected, two relay plots). `complete.jsonl` is
the same run as a lab would have set it up: a [lab], [customer], [operator] and
[environment], the guarded decision rule, a Keysight 34461A as the DMM (the shown V and A
carry their uncertainty budgets), in the WIB time zone (+0700), with one failing credit test
added in front (credit added 0.99 kWh against 0.9995 .. 1.0005).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "report"


def record_lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (DATA / name).read_text().splitlines()]


def write_record(run_dir: Path, lines: list[dict[str, Any]], tail: str = "") -> Path:
    """A run directory holding these lines as results.jsonl (`tail`: a torn last line)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(x) + "\n" for x in lines) + tail
    (run_dir / "results.jsonl").write_text(text, encoding="utf-8")
    return run_dir


def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pypdf), whitespace folded to single spaces."""
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages]


def pdf_images(path: Path) -> set[tuple[str, tuple[int, int]]]:
    """The distinct images the PDF holds (name, pixel size)."""
    from pypdf import PdfReader

    return {(im.name, im.image.size) for page in PdfReader(str(path)).pages
            for im in page.images}
