"""Optical port (IEC 62056-21 mode C): identification, readout with a correct BCC, registers."""

import re

import pytest

from drivers.iec62056 import SOH, STX, command, option_select, request
from meterprofile.fact_catalogue import FACTS
from rig.record.measures import resolve_limit
from sts.pan import MeterPAN

DATE = re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{2}")

IEC21 = "IEC 62056-21:2002 6.3"
REACTION_MAX = "iec62056_21.reaction_max_s"


def answer_wait_s(profile) -> float:
    """How long an answer would take to start at most: three times the declared reaction
    time and 0.3 s for the host, at most the standard's longest (1.5 s) and 0.1 s."""
    return min(3 * profile.optical.reaction_ms / 1000.0 + 0.3,
               float(resolve_limit(REACTION_MAX, profile)) + 0.1)


def first_register(profile) -> str:
    """The first register address the profile declares (0.9.1, the time, when none)."""
    declared = sorted(src.address for src in profile.register_facts().values())
    return declared[0] if declared else "0.9.1"


def is_identification(heard: bytes) -> int:
    """1 when what was heard is an identification message ('/' ... CR LF), else 0."""
    return int(heard.startswith(b"/") and heard.endswith(b"\r\n"))


@pytest.mark.clause(f"{IEC21}.2 identification message", "IEC 62056-21:2002 6.3.14 reaction "
                    "time tr (20 or 200 ms to 1.5 s)")
@pytest.mark.faults("slow-reaction")
@pytest.mark.judges_optical_link
def test_identification(optical, dut, bench_config, profile, record):
    """The meter identifies itself on the optical port, in time (neither later than 1.5 s
    nor sooner than the 200 ms, or 20 ms, the standard gives it), as the profile declares."""
    # tr: from the request written to the identification's first character, less that
    # character's wire time at 300 baud (host latency only adds to it); at most 1.5 s, at
    # least 200 ms, or 20 ms where the third letter is lower case (6.3.14)
    ident, tr = optical.timed_identify()
    fastest = 0.020 if ident.manufacturer[2:3].islower() else 0.200
    record("identification reaction time (first character less its wire time)", tr, "s",
           fastest, resolve_limit(REACTION_MAX, profile))
    record("manufacturer id", ident.manufacturer,
           nominal=profile.meter.optical_manufacturer_id, source="meter",
           obtained="optical port identification message")
    record("baud rate character is a mode C rate", int(ident.baud_char in "0123456"),
           nominal=1)
    record("mode E (binary) not offered", int(not ident.mode_e), nominal=1)
    record("meter number = DRN of the bench PAN", dut.fact("meter_number"),
           nominal=MeterPAN.parse(bench_config.meter.pan).drn, fact="meter_number")


@pytest.mark.clause(f"{IEC21}.1 request message: device address",
                    "declared: optical.device_address")
def test_addressed_sign_on(optical, bench_config, profile, record):
    """A sign-on request may name a device address (IEC 62056-21 6.3.1): the meter answers
    its own, as declared, and stays silent to another device's (meters sharing one optical
    head or bus must not answer each other's requests), and to its own behind a character
    no address may hold."""
    declared = profile.optical.device_address
    if not declared:
        pytest.skip("the profile declares no optical.device_address")
    mine = (MeterPAN.parse(bench_config.meter.pan).drn if declared.upper() == "DRN"
            else declared)
    last = mine[-1]
    other = mine[:-1] + (str((int(last) + 1) % 10) if last.isdigit() else "0")
    wait_s = answer_wait_s(profile)
    heard = optical.probe(request(mine), wait_s=wait_s + 1.0, until=b"\r\n")
    record(f"identification sent to a request addressed to this meter ({declared})",
           is_identification(heard), nominal=1)
    heard = optical.probe(request(other), wait_s=wait_s)
    record("bytes answered to a request addressed to another device (last character "
           "changed)", len(heard), nominal=0)
    # a TAB is outside the address characters of IEC 62056-21 (digits, letters, space):
    # "TAB + this meter's address" is no address of this meter, however a parser trims it
    heard = optical.probe(b"/?\t" + mine.encode("ascii") + b"!\r\n", wait_s=wait_s)
    record("bytes answered to a request addressed to this meter behind a TAB", len(heard),
           nominal=0)


@pytest.mark.clause(f"{IEC21}.7 programming mode: a session ends with the supply")
def test_a_session_ends_with_the_supply(optical, dut, profile, record):
    """A programming session is volatile: while the supply is off the port answers nothing,
    and once it is back a command of the old session gets no answer until a new sign-on
    (the meter started afresh); a new session then reads as before."""
    address = first_register(profile)
    read = command("R1", f"{address}()")
    wait_s = answer_wait_s(profile)
    optical.open_session()
    try:
        dut.supply(False)
        dut.wait(2.0)
        heard = optical.probe(read, after="current", wait_s=wait_s)
        record("bytes answered to a register read with the supply off", len(heard), nominal=0)
    finally:
        dut.supply(True)
    dut.wait(1.0)
    heard = optical.probe(read, after="current", wait_s=wait_s)
    record("bytes answered to a read of the session from before the supply was cut",
           len(heard), nominal=0)
    record(f"register {address} read after a new sign-on", int(bool(optical.read(address).value)),
           nominal=1)


@pytest.mark.clause("IEC 62056-21:2002 time and date registers 0.9.1, 0.9.2")
@pytest.mark.faults("frozen-clock")
def test_meter_clock_runs(dut, record):
    """The meter's clock moves with the bench clock (the injector's)."""
    # each reading is bracketed by the injector's clock (a read may first sign on again)
    t0a, first, t0b = dut.now(), dut.fact("clock_time"), dut.now()
    dut.wait(120.0)
    t1a, second, t1b = dut.now(), dut.fact("clock_time"), dut.now()
    moved = (seconds(second) - seconds(first)) % 86400
    record("meter clock advance over the injector's", moved, "s",
           (t1a - t0b) - 2 * dut.host_slack_s - 1, (t1b - t0a) + 2 * dut.host_slack_s + 1,
           fact="clock_time")
    record("date", int(bool(DATE.fullmatch(dut.fact("clock_date")))),
           nominal=1, fact="clock_date")


def seconds(hhmmss: str) -> int:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return h * 3600 + m * 60 + s


@pytest.mark.clause(f"{IEC21}.5 data readout", "IEC 62056-21:2002 6.4 block check character")
@pytest.mark.faults("bad-bcc", "readout-no-end")
def test_readout_bcc_and_registers(optical, profile, record):
    """The readout (BCC checked by the driver) lists every register the profile declares,
    in the declared unit."""
    registers = {r.obis: r for r in optical.readout()}
    declared = profile.register_facts()
    record("registers in readout", len(registers), low=len(declared))
    missing = sorted(f"{name} ({src.address})" for name, src in declared.items()
                     if src.address not in registers)
    record("declared registers missing from the readout", len(missing), nominal=0)
    assert not missing, f"readout lacks {missing}"
    for name, src in declared.items():
        if FACTS[name].unit and src.unit:
            record(f"unit of {name} ({src.address})", registers[src.address].unit,
                   nominal=src.unit)
    record("no key in the readout", int(not any("key" in r.obis.lower() for r in
                                                registers.values())), nominal=1)


@pytest.mark.clause(f"{IEC21}.6 programming mode: NAK is a repeat request",
                    "IEC 62056-21:2002 6.3 answer: STX data set ETX BCC, ACK or NAK")
def test_nak_repeats_the_last_answer(optical, profile, record):
    """After a register's answer, the rig's NAK (a repeat request, as a host sends on a
    corrupted answer) makes the meter send the same data message again, BCC and all."""
    declared = sorted(src.address for src in profile.register_facts().values())
    if not declared:
        pytest.skip("not applicable: the profile declares no register to read")
    first, again = optical.repeat_request(declared[0])
    record(f"answer to {declared[0]} repeated unchanged after NAK", int(again == first),
           nominal=1)
    assert again == first, f"first {first!r}, after NAK {again!r}"


@pytest.mark.clause(f"{IEC21}.6 programming mode: the password command P1 opens it",
                    "IEC 62056-21:2002 6.3 programming command message")
def test_a_wrong_password_opens_nothing(optical, bench_config, profile, record):
    """A wrong password (P1, every digit changed) is not acknowledged, and a register asked for
    after it is not given: only the right password opens the programming mode. The right one
    still opens it afterwards (one wrong try locks nothing)."""
    declared = sorted(src.address for src in profile.register_facts().values())
    if not declared:
        pytest.skip("not applicable: the profile declares no register to read")
    right = bench_config.meter.password
    if not right:
        pytest.skip("not applicable: the bench's meter is read without a password")
    wrong = "".join(str((int(c) + 1) % 10) if c.isdigit() else "0" for c in right)
    address = declared[0]
    p1, r1 = optical.read_with_password(address, wrong)
    record("answer to the wrong password", repr(p1))
    record("wrong password acknowledged (ACK)", int(p1[:1] == b"\x06"), nominal=0)
    record(f"register {address} given after the wrong password",
           int(f"{address}(".encode() in r1), nominal=0)
    record(f"register {address} read with the right password afterwards",
           optical.read(address).value)


NAK = b"\x15"


@pytest.mark.clause(f"{IEC21} messages: only a valid message is answered",
                    "IEC 62056-21:2002 6.3.1 request, 6.3.3 option select, 6.3.7 programming "
                    "command", "IEC 62056-21:2002 6.4 block check character (NAK on a bad BCC)")
def test_noise_and_malformed_messages(optical, profile, record):
    """What no client should send gets no answer: bytes that start no message, requests
    whose address breaks the grammar or that lack the "?", a NAK or a command on the idle
    link, an option select without its CR LF, a command where the option select belongs; a
    request right behind noise (even a single NUL) or behind a request cut short, or with a
    pause inside the inter-character time the standard allows, is answered. A command whose
    BCC is wrong, inside a session, gets NAK (a repeat request) and nothing else. Afterwards
    the meter still identifies itself."""
    read = command("R1", f"{first_register(profile)}()")
    silent = (
        ("idle", b"hello\x00\x7f", "bytes that start no message"),
        ("idle", b"/?#!\r\n", "a request whose address is a lone '#' (the shortest bad one)"),
        ("idle", b"/!\r\n", "a '/' and its request end without the '?' (no request)"),
        ("idle", b"/?" + b"1" * 33 + b"!\r\n", "a request with a 33-character address"),
        ("idle", b"/" + b"x" * 45, "a '/' with no request end in 45 bytes"),
        ("idle", NAK, "a NAK on the idle link"),
        ("idle", read, "a register read without a sign-on"),
        ("identification", b"\x06051\r\x00", "an option select with CR NUL for CR LF"),
        ("identification", read, "a register read instead of the option select"),
    )
    wait_s = answer_wait_s(profile)
    for after, message, label in silent:
        heard = optical.probe(message, after=after, wait_s=wait_s)
        record(f"bytes answered to {label}", len(heard), nominal=0)
    # a request right behind noise, or behind a request cut short, is a request: answered
    # (the identification at 300 baud takes up to about 0.8 s on the wire)
    for lead, label in ((b"\x00\x7fjunk", "noise"), (b"/?12", "a request cut short")):
        heard = optical.probe(lead + request(), wait_s=wait_s + 1.0, until=b"\r\n")
        record(f"identification sent to a request right behind {label}",
               is_identification(heard), nominal=1)
    # IEC 62056-21 lets a sender pause up to ta = 1.5 s between two characters: a request
    # with a 1.2 s pause inside it is still a request, and so is one begun right behind
    # noise (the noise's bytes are dropped, the request's start is kept while it pauses)
    junk = b"\x00\x7fjunk"
    heard = optical.probe(junk + request(), wait_s=wait_s + 1.0, pause=(len(junk) + 2, 1.2),
                          until=b"\r\n")
    record("identification sent to a request behind noise, with a 1.2 s pause after its "
           "'/?'", is_identification(heard), nominal=1)
    # a single NUL (a wake-up character a hand-held unit may send first) right before a
    # request that pauses 0.2 s after its '/?': the NUL is dropped, the request's start kept
    heard = optical.probe(b"\x00" + request(), wait_s=wait_s + 1.0, pause=(3, 0.2),
                          until=b"\r\n")
    record("identification sent to a request right behind one NUL, with a 0.2 s pause after "
           "its '/?'", is_identification(heard), nominal=1)
    # the option select and a command may pause inside too (ta): a programming mode select
    # at 300 baud paused after its ACK 0 0, before its CR LF or between the two, is answered
    # with the P0 operand (SOH), a register read paused after its SOH R1 with the register
    for at, where in ((3, "after its ACK 0 0"), (4, "before its CR LF"),
                      (5, "between its CR and LF")):
        heard = optical.probe(option_select("0", "1"), after="identification",
                              pause=(at, 0.2), wait_s=wait_s + 1.0, until=optical.block_ended)
        record(f"operand sent to a programming-mode option select with a 0.2 s pause {where}",
               int(heard[:1] == bytes([SOH])), nominal=1)
    heard = optical.probe(read, after="session", pause=(3, 0.2), wait_s=wait_s + 0.5,
                          until=optical.block_ended)
    record("register sent to a read with a 0.2 s pause inside, in a session",
           int(heard[:1] == bytes([STX])), nominal=1)
    spoiled = read[:-1] + bytes([read[-1] ^ 0x01])
    heard = optical.probe(spoiled, after="session", wait_s=wait_s)
    record("answer to a register read with a wrong BCC, in a session (NAK)", repr(heard))
    record("a wrong BCC is answered with NAK alone", int(heard == NAK), nominal=1)
    record("identification after all of it", optical.identify().manufacturer,
           nominal=profile.meter.optical_manufacturer_id)
