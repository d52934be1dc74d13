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


def test_display_read_says_what_it_printed(capsys):
    assert main(["display", "read"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('display shows "0.00", confidence 0.')
    assert out.rstrip().endswith("frames agreed): a number; at rest the meter shows its "
                                 "credit, in kWh?")


def test_display_read_with_state_shows_what_an_earlier_command_left(capsys, tmp_path):
    state = str(tmp_path / "meter.json")
    assert main(["sts", "vend", "credit", "--subclass", "0", "--amount", "25", "--bench"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["meter", "enter", token, "--state", state]) == 0
    capsys.readouterr()
    assert main(["display", "read", "--state", state, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["text"], out["what"]) == ("BENAR", "the message for ACCEPT")


def test_display_read_state_is_refused_for_a_real_bench(capsys, tmp_path):
    bench = tmp_path / "bench.toml"
    bench.write_text('[bench]\nname = "real"\n[meter]\npan = "600727471234567834"\n'
                     'optical = "/dev/null-none"\n')
    assert main(["display", "read", "--bench", str(bench), "--state", "x.json"]) == 2
    assert capsys.readouterr().err == (f"rig display: --state is for an emulated bench; {bench} "
                                       "is a real one\n")


def test_display_read_help_describes_it(capsys):
    assert main(["display", "read", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Print what the meter's display shows now" in out and "--state FILE" in out
