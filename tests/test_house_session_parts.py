"""The plan session's concerns, each a module of its own (issue 15): the run's setup, the
sign-on judgement of the bring-up, the PAN check and the stop signals, tested on their own
with known answers; the session (rig/bench/session.py) only holds them together.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from drivers.iec62056 import Identification
from rig.bench.bring_up import MAX_REACTION_S, slow_sign_on
from rig.bench.config import DEFAULT_BENCH, load_bench
from rig.bench.pan_check import WrongMeter, check_pan, meters_file_entry, with_meter
from rig.bench.run_setup import BenchFault, RunOptions, config_identity, load_run_config
from rig.bench.stop_signals import catch_sigterm, deferred_signals, restore_sigterm

IDENT = Identification("EMu", "5", "STS-EMU-1.0.0", None)  # 20 bytes: 0.667 s at 300 baud


def test_a_sign_on_later_than_the_standard_allows_is_said_once():
    assert MAX_REACTION_S == 1.5  # IEC 62056-21 6.3.14, tr
    assert slow_sign_on("/dev/pts/9", IDENT, 0.667 + 1.6) is None  # within tr + host slack
    why = slow_sign_on("/dev/pts/9", IDENT, 0.667 + 1.9)
    assert why is not None and "(/dev/pts/9) answered its sign-on after 1.9 s" in why
    assert "only the tests that judge the optical link are run" in why


def test_the_pan_check_names_the_port_and_both_pans():
    config = load_bench(DEFAULT_BENCH)
    check_pan(config.meter.pan, config, "/dev/pts/9")  # the bench file's meter: no error
    check_pan(None, config, "/dev/pts/9")  # a model that does not report its PAN
    with pytest.raises(WrongMeter, match=rf"the meter on /dev/pts/9 reports PAN "
                                         rf"600727000000000009, the bench file "
                                         rf"{DEFAULT_BENCH.name} names {config.meter.pan}"):
        check_pan("600727000000000009", config, "/dev/pts/9")
    with pytest.raises(WrongMeter, match=r"--meters m\.csv: the meter on /dev/pts/9 did not "
                                         r"report its PAN"):
        meters_file_entry("m.csv", None, "/dev/pts/9", config)
    other = with_meter(config, "600727000000000009", config.meter.keys)
    assert other.meter.pan == "600727000000000009" and config.meter.pan != other.meter.pan


def test_the_run_setup_refuses_what_the_bench_cannot_take(tmp_path):
    config, profile = load_run_config(RunOptions())
    assert Path(config.path) == DEFAULT_BENCH and profile.name == "pln_default"
    identity = config_identity(config, profile, RunOptions(speed=50.0))
    assert identity["speed"] == 50.0 and identity["meter"]["profile"] == "pln_default"
    config, profile = load_run_config(RunOptions(profile="pln_minimal"))
    assert profile.name == "pln_minimal" and config.meter.profile == profile.source
    real = tmp_path / "real.toml"
    real.write_text('[bench]\nname = "real"\n[meter]\npan = "600727471234567834"\n'
                    'optical = "/dev/ttyUSB0"\n')
    with pytest.raises(BenchFault, match=r"--speed applies to an emulated bench only; "
                                         r"real\.toml is a real one"):
        load_run_config(RunOptions(bench=str(real), speed=10.0))
    with pytest.raises(BenchFault, match=r"--profile 'no_such_meter': no meter profile named"):
        load_run_config(RunOptions(profile="no_such_meter"))


def test_sigterm_stops_the_run_as_ctrl_c_does_and_waits_for_the_safe_state(capsys):
    seen: list[int] = []

    def sentinel(signum: int, frame: object) -> None:  # a SIGTERM never reaches pytest
        seen.append(signum)

    outer = signal.signal(signal.SIGTERM, sentinel)
    try:
        previous = catch_sigterm()
        assert previous is sentinel
        try:
            with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
                os.kill(os.getpid(), signal.SIGTERM)  # handled before os.kill returns
        finally:
            restore_sigterm(previous)
        assert signal.getsignal(signal.SIGTERM) is sentinel and seen == []
    finally:
        signal.signal(signal.SIGTERM, outer)
    before = signal.getsignal(signal.SIGINT)
    with deferred_signals():  # the bench going back to safe: a Ctrl-C waits, said
        os.kill(os.getpid(), signal.SIGINT)
    assert "SIGINT received while the bench is put in its safe state" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before


def test_a_run_stopped_before_its_start_line_still_opens_its_record_with_one(tmp_path):
    """A Ctrl-C in the bring-up reaches the run's end before `run_start` was written: the
    record still opens with it (who, what, which bench), so `rig report` can render it."""
    import json

    from rig.bench.session import RigSession
    from rig.record.run_record import TestOutcome

    rig = RigSession(RunOptions(report_dir=tmp_path, run_id="stopped-early"))
    rig.activate([TestOutcome("testplans/test_x.py::test_a", ["C"], [])])
    rig.stopping("Ctrl-C (SIGINT)")
    rig.finish(2)
    lines = [json.loads(x) for x in
             (tmp_path / "stopped-early" / "results.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["run_start", "run_end"]
    assert lines[0]["run_id"] == "stopped-early" and lines[0]["bench"] == "emulated bench"
    assert lines[1]["stopped"] == "Ctrl-C (SIGINT)" and lines[1]["counts"] == {"not run": 1}
