"""Hypothesis round trips: vend, then decode (and validate) gives back every field, for
every class and kind, under EA07 and EA11."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.amount import (
    UNIT_COUNT_MAX,
    decode_count,
    decode_currency_count,
    encode_count,
    encode_currency_count,
)

EXAMPLES = settings(max_examples=60, deadline=None)

eas = st.sampled_from(["07", "11"])
tids = st.integers(0, 0xFFFFFF)
rnds = st.integers(0, 15)


def keys_for(ea: str) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=16 if ea == "11" else 8, max_size=16 if ea == "11" else 8)


ea_and_key = eas.flatmap(lambda ea: st.tuples(st.just(ea), keys_for(ea)))


def decoded(token: sts.Token, key: bytes, ea: str) -> sts.DecodedToken:
    result = sts.decode(token.digits, key, ea)
    assert result.crc_ok
    assert (result.cls, result.subclass, result.kind, result.block) == (
        token.cls, token.subclass, token.kind, token.block)
    assert result.fields == token.fields
    return result


def meter_for(ea: str, key: bytes, keypad: bool = True) -> sts.MeterValidator:
    register = sts.KeyRegister(key, ea, kt=2, krn=1, ti="01", sgc="123456")
    return sts.MeterValidator(register, mfr_code=0, keypad=keypad)


@EXAMPLES
@given(ea_and_key, st.integers(0, 3), st.integers(0, UNIT_COUNT_MAX), tids, rnds)
def test_credit(ea_key, subclass, tenths, tid, rnd):
    ea, key = ea_key
    amount = Decimal(tenths) / 10
    token = sts.Vendor(key, ea).credit(subclass, amount, tid=tid, rnd=rnd)
    fields = decoded(token, key, ea).fields
    assert (fields["rnd"], fields["tid"]) == (rnd, tid)
    assert fields["amount"] == Decimal(decode_count(encode_count(tenths))) / 10 >= amount
    assert fields["unit"] == {0: "kWh", 1: "m3", 2: "m3", 3: "min"}[subclass]
    accepted = meter_for(ea, key).validate(token.digits)
    assert (accepted.kind, accepted.tid, accepted.fields) == ("credit", tid, fields)


@EXAMPLES
@given(ea_and_key, st.integers(4, 7), st.integers(-(10**12), 10**12), tids)
def test_currency(ea_key, subclass, count, tid):
    ea, key = ea_key
    amount = Decimal(count) / 100000
    token = sts.Vendor(key, ea).currency(subclass, amount, tid=tid)
    fields = decoded(token, key, ea).fields
    assert fields["tid"] == tid
    assert fields["sign"] == (1 if count < 0 else 0)
    want = decode_currency_count(*encode_currency_count(count))
    assert fields["amount"] == Decimal(want) / 100000
    assert fields["amount"] >= amount  # in favour of the customer, both signs
    assert abs(fields["amount"]) <= abs(amount) or count >= 0


@EXAMPLES
@given(ea_and_key, st.sampled_from(["power_limit", "phase_unbalance"]),
       st.integers(0, UNIT_COUNT_MAX), tids, rnds)
def test_power_limits(ea_key, kind, watts, tid, rnd):
    ea, key = ea_key
    token = getattr(sts.Vendor(key, ea), kind)(watts, tid=tid, rnd=rnd)
    fields = decoded(token, key, ea).fields
    assert token.kind == kind
    assert (fields["rnd"], fields["tid"]) == (rnd, tid)
    assert fields["watts"] == decode_count(encode_count(watts)) >= watts


@EXAMPLES
@given(ea_and_key, st.sampled_from([("clear_credit", "register"), ("tariff_rate", "rate"),
                                    ("water_factor", "factor")]),
       st.integers(0, 0xFFFF), tids, rnds)
def test_raw_value_tokens(ea_key, kind_field, value, tid, rnd):
    ea, key = ea_key
    kind, name = kind_field
    token = getattr(sts.Vendor(key, ea), kind)(value, tid=tid, rnd=rnd)
    fields = decoded(token, key, ea).fields
    assert token.kind == kind
    assert (fields["rnd"], fields["tid"], fields[name]) == (rnd, tid, value)


@EXAMPLES
@given(ea_and_key, tids, rnds)
def test_clear_tamper(ea_key, tid, rnd):
    ea, key = ea_key
    token = sts.Vendor(key, ea).clear_tamper(tid=tid, rnd=rnd)
    assert decoded(token, key, ea).fields == {"rnd": rnd, "tid": tid, "pad": 0}


@EXAMPLES
@given(st.integers(0, (1 << 36) - 1), st.integers(0, 99), st.integers(0, (1 << 28) - 1),
       st.integers(0, 9999))
def test_class1(control36, mfr2, control28, mfr4):
    for control, mfr, digits in ((control36, mfr2, 2), (control28, mfr4, 4)):
        token = sts.test_token(control, mfr_code=mfr, mfr_digits=digits)
        result = sts.decode(token.digits)
        assert result.crc_ok and result.kind == "test"
        assert result.fields == {"control": control, "mfr_code": mfr, "mfr_digits": digits}


@EXAMPLES
@given(ea_and_key, st.sampled_from(["07", "11"]), st.data(), st.integers(1, 3),
       st.integers(1, 9), st.integers(1, 99), st.integers(0, 255), st.booleans(),
       st.one_of(st.none(), st.integers(0, 999999)))
def test_key_change(ea_key, new_ea, data, new_kt, krn, ti, ken, rollover, sgc):
    ea, key = ea_key
    if ea == "11":
        new_ea = "11"  # a MISTY1 meter takes 128-bit keys only
    new_key = data.draw(keys_for(new_ea))
    sgc_text = None if sgc is None else f"{sgc:06d}"
    if new_ea == "11" and sgc_text is None:
        sgc_text = "123456"
    tokens = sts.Vendor(key, ea).key_change(
        new_key, new_kt=new_kt, new_krn=krn, new_ti=f"{ti:02d}", new_ken=ken,
        new_sgc=sgc_text, rollover=rollover, new_ea=new_ea)
    expected_count = 4 if new_ea == "11" else 3 if sgc_text else 2
    assert len(tokens) == expected_count
    for token in tokens:
        decoded(token, key, ea)
    meter = meter_for(ea, key, keypad=False)  # a card meter may take a DCTK (KT 3) too
    order = data.draw(st.permutations(range(expected_count)))
    if ea != "11" and new_ea == "11":
        # an EA07 meter learns the key is 128-bit from section 3 or 4: they come first
        order = data.draw(st.permutations([2, 3])) + data.draw(st.permutations([0, 1]))
    outcomes = [meter.accept(tokens[i].digits) for i in order]
    assert outcomes == [sts.Outcome.KCT_HELD] * (expected_count - 1) + [sts.Outcome.ACCEPT]
    reg = meter.register
    assert (reg.decoder_key, reg.kt, reg.krn, reg.ti, reg.ken) == (
        new_key, new_kt, krn, f"{ti:02d}", ken)
    assert reg.sgc == (sgc_text or "123456")
    assert reg.ea == ("11" if new_ea == "11" else ea)
