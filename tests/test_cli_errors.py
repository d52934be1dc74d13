"""The `rig` commands report problems one way: `rig <command>: <what>` on stderr, exit 2 for
usage or bad input (found before anything is started), 1 for a device or bench problem.
Also: `rig bench check` tells a refused instrument from a silent one, `rig meter enter`
checks the token first, and every option has its help text."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rig.cli import main

REAL = """
[bench]
name = "bench on the emulator's wires"
[meter]
pan = "600727471234567834"
optical = "{optical}"
[keypad]
port = "{keypad}"
[instruments.source]
resource = "{source}"
calibration_due = 2020-01-31
[instruments.load]
resource = "{load}"
calibration_due = 2999-12-31
"""
SILENT = """
[bench]
name = "nothing there"
[meter]
pan = "600727471234567834"
optical = "/dev/null-none"
[keypad]
port = "/dev/null-none-keypad"
"""
VEND_FOR_THE_EMULATED_METER = [
    "sts", "vend", "credit", "--subclass", "0", "--amount", "5", "--dkga", "02",
    "--vending-key", "abababababababab", "--pan", "600727471234567834", "--sgc", "123456",
    "--ti", "01", "--krn", "1", "--kt", "2", "--base-date", "2014", "--tid", "5000000",
    "--rnd", "3"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("argv", "code", "prefix"), [
    (["frobnicate"], 2, "rig: "),
    (["bench", "frobnicate"], 2, "rig bench: "),
    (["bench", "check", "--bench", "/nonexistent/bench.toml"], 2, "rig bench: "),
    (["meter", "readout", "--bench", "/nonexistent/bench.toml"], 2, "rig meter: "),
    (["meter", "enter"], 2, "rig meter: "),
    (["meter", "enter", "1234"], 2, "rig meter: "),
    (["meter", "readout", "--port", "/dev/null-none"], 1, "rig meter: "),
    (["sts", "decode", "123"], 2, "rig sts: "),
    (["sts", "vend", "credit", "--amount", "1"], 2, "rig sts: "),
    (["emulate", "--fault", "nope"], 2, "rig emulate: "),
])
def test_one_form_and_one_exit_code_per_kind_of_problem(capsys, argv, code, prefix):
    got, out, err = run(capsys, *argv)
    assert (got, out) == (code, "")
    assert len(err.splitlines()) == 1 and err.startswith(prefix)
    assert "error:" not in err and "Traceback" not in err


@pytest.mark.parametrize(("token", "message"), [
    ("1234", "rig meter: token has 4 digits, expected 20\n"),
    ("2371-6100-5011-8319-419", "rig meter: token has 19 digits, expected 20\n"),
    ("2371 6100 5011 8319 41977", "rig meter: token has 21 digits, expected 20\n"),
    ("2371 6100 50x1 8319 4197", "rig meter: token has 'x' at position 13: only digits, "
                                 "spaces and dashes\n"),
])
def test_meter_enter_checks_the_token_before_opening_anything(capsys, tmp_path, token,
                                                              message):
    # the bench's ports do not exist: opening anything first would fail on them (exit 1)
    assert run(capsys, "meter", "enter", token, "--bench", write(tmp_path, SILENT)) == (
        2, "", message)


def test_meter_enter_state_is_kept_only_with_state(capsys, tmp_path):
    code, token, _ = run(capsys, *VEND_FOR_THE_EMULATED_METER)
    assert code == 0
    token = token.strip()
    state = str(tmp_path / "meter.json")
    assert run(capsys, "meter", "enter", token, "--state", state) == (
        0, "ACCEPT (BENAR) [register C.52.0]\n", "")
    # the same emulated meter memory: the token is now used; exit 1, the meter said no
    code, out, err = run(capsys, "meter", "enter", token, "--state", state)
    assert (code, out) == (1, "USED (USED) [register C.52.0]\n")
    assert err == "rig meter: the meter did not accept the token: USED (USED)\n"
    assert json.loads(Path(state).read_text())  # the memory is in the file


def test_meter_state_is_refused_for_a_real_bench(capsys, tmp_path):
    bench = write(tmp_path, SILENT)
    code, _, err = run(capsys, "meter", "readout", "--bench", bench, "--state", "x.json")
    assert code == 2 and err == f"rig meter: --state is for an emulated bench; {bench} is a " \
                                "real one\n"


def _bench_on(tmp_path: Path, emu) -> str:
    return write(tmp_path, REAL.format(optical=emu.optical, keypad=emu.keypad,
                                       source=emu.instruments["source"],
                                       load=emu.instruments["load"]))


def test_bench_check_tells_refused_for_calibration_from_silent(capsys, tmp_path,
                                                               start_emulator):
    bench = _bench_on(tmp_path, start_emulator())
    code, out, err = run(capsys, "bench", "check", "--bench", bench)
    assert code == 1
    assert "source   REFUSED STS-RIG,EMU-ACSOURCE" in out and "due 2020-01-31" in out
    assert "load     ok  STS-RIG,EMU-ACLOAD" in out and "meter    ok  EMu" in out
    assert err == ("rig bench: refused for calibration (past the due date; "
                   "--allow-expired-calibration to use it anyway): source (due 2020-01-31)\n")
    assert "no answer" not in err
    bench = _bench_on(tmp_path, start_emulator())  # a meter of its own: a fresh sign-on
    code, out, err = run(capsys, "bench", "check", "--bench", bench,
                         "--allow-expired-calibration")
    assert (code, err) == (0, "")
    assert "source   ok  STS-RIG,EMU-ACSOURCE" in out and "allowed by" in out


def test_bench_check_silent_devices_exit_1(capsys, tmp_path):
    code, out, err = run(capsys, "bench", "check", "--bench", write(tmp_path, SILENT))
    assert code == 1 and "meter    FAIL" in out and "keypad   FAIL" in out
    assert err == "rig bench: no answer from: meter, keypad\n"


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        elif not isinstance(action, argparse._HelpAction):
            yield parser.prog, action


@pytest.mark.parametrize("module", ["bench_check", "meter_io", "sts_tools"])
def test_every_option_and_argument_has_help(module):
    import importlib

    parser = importlib.import_module(f"rig.commands.{module}").build_parser()
    missing = [f"{prog} {'/'.join(a.option_strings) or a.dest}"
               for prog, a in _actions(parser) if not a.help]
    assert missing == []


def test_rig_help_lists_version_and_the_exit_codes(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--version" in out and "2 usage or bad input" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("rig ")


def test_meter_help_says_the_emulated_meter_starts_afresh(capsys):
    code, out, _ = run(capsys, "meter", "enter", "--help")
    assert code == 0
    assert "starts afresh for each command" in " ".join(out.split())
    assert "--state FILE" in out and "TOKEN" in out


def test_meter_enter_reads_a_display_only_meter_through_the_camera(capsys, tmp_path):
    """The minimal PLN meter has no result register: its answer is the message on its LCD."""
    code, token, _ = run(capsys, *VEND_FOR_THE_EMULATED_METER)
    assert code == 0
    from rig.bench.config import DEFAULT_BENCH

    bench = tmp_path / "minimal.toml"
    bench.write_text(DEFAULT_BENCH.read_text().replace('profile = "pln_default"',
                                                       'profile = "pln_minimal"'))
    assert run(capsys, "meter", "enter", token.strip(), "--bench", str(bench)) == (
        0, "BENAR (BENAR) [display]\n", "")


def test_rig_run_takes_no_abbreviation_from_pytests_options():
    """`rig run --co` is pytest's --collect-only, not an abbreviation of --coordinator."""
    from rig.commands.run_plan import build_parser

    args, extra = build_parser().parse_known_args(["--co", "-k", "relay"])
    assert args.coordinator is None and extra == ["--co", "-k", "relay"]
