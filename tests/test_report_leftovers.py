"""The PDF renderer never outlives the process that started it: killed with SIGKILL during
a render (as when pytest is killed while writing the report), its renderer child gets
SIGTERM from the kernel (PR_SET_PDEATHSIG) and is gone, and no half-written PDF is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PARENT = '''
import sys
from pathlib import Path
from rig.record.report_pdf import html_to_pdf
html_to_pdf(Path(sys.argv[1]), Path(sys.argv[2]))
'''


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        out += [int(x) for x in text.split()]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_renderer_dies_with_its_parent(tmp_path):
    rows = "".join(f"<tr><td>{n}</td><td>row {n} of a long table</td></tr>"
                   for n in range(40000))
    html = tmp_path / "report.html"
    html.write_text(f"<html><body><table>{rows}</table></body></html>")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(html),
                               str(tmp_path / "report.pdf")], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        renderer = []
        while not renderer and time.monotonic() < deadline:
            renderer = _children(parent.pid)
            time.sleep(0.05)
        assert renderer, "the renderer never started"
        time.sleep(1.0)  # the renderer is well into its work
        assert parent.poll() is None, "the render ended before the test could kill it"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while _alive(renderer[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(renderer[0]), "the renderer outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in renderer:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no half PDF
