"""`rig display read` against the emulated bench: the camera it announces, read through HTTP."""

from __future__ import annotations

import json

import pytest

from rig.bench.config import load_bench
from rig.bench.devices import BenchError
from rig.cli import main
from rig.commands.display_read import camera_of


def test_display_read_prints_the_idle_credit_of_the_emulated_meter(capsys):
    assert main(["display", "read", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "0.00"          # a new emulated meter: no credit, credit shown
    assert out["frames"] >= 2 and 0.4 <= out["confidence"] <= 1.0


def test_display_without_an_action_is_a_usage_error(capsys):
    assert main(["display"]) == 2
    assert capsys.readouterr().err.startswith("rig display: ")


def test_a_bench_without_a_camera_says_so():
    config = load_bench(None)
    with pytest.raises(BenchError, match="the bench has no camera"):
        camera_of(config, {})
    spec, corners, rotate = camera_of(config, {"camera": "http://127.0.0.1:1/capture",
                                               "camera_corners": [[1, 2], [3, 4], [5, 6],
                                                                  [7, 8]]})
    assert (spec, corners, rotate) == ("http://127.0.0.1:1/capture",
                                       [[1, 2], [3, 4], [5, 6], [7, 8]], 0)
