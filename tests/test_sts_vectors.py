"""Every token, amount, CRC and TID vector of tests/data/sts_vectors.json, through the API.

Each vector is one test (id: kind, index in its kind, the start of its notes). Token vectors
are vended from their inputs (the decoder key derived by the vector's DKGA, the TID from its
issue date and base date) and the expected digits decoded back.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import sts
from sts.amount import decode_count, encode_count
from sts.crc import token_crc
from sts.tid import datetime_from_tid, tid_from_datetime

DATA = Path(__file__).resolve().parent / "data" / "sts_vectors.json"
KINDS = ("token_class0_credit", "token_class0_currency", "token_class1_test",
         "token_class2_register", "token_class2_keychange_set", "amount_encoding", "crc16",
         "tid")


def _vectors(kind: str) -> list:
    items = [v for v in json.loads(DATA.read_text()) if v["kind"] == kind]
    params = []
    for index, vector in enumerate(items):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", vector.get("notes", ""))[:40].strip("_")
        params.append(pytest.param(vector, id=f"{kind}-{index}-{slug}"))
    return params


def test_every_kind_has_vectors():
    for kind in KINDS:
        assert _vectors(kind), kind


def _key(inputs: dict) -> bytes:
    return sts.derive_decoder_key(
        dkga=inputs["dkga"], vending_key=bytes.fromhex(inputs["vending_key_hex"]),
        pan=inputs["meter_pan"], sgc=inputs["sgc"], ti=inputs["ti"], krn=inputs["krn"],
        kt=inputs["kt"], base_date=int(inputs["base_date"]), ea=inputs["ea"],
    )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("vector", _vectors("token_class0_credit"))
def test_class0_credit(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    key = _key(inputs)
    assert key.hex() == expected["decoder_key_hex(derived)"]
    vendor = sts.Vendor(key, inputs["ea"], int(inputs["base_date"]), inputs["kt"])
    amount = Decimal(inputs["amount_in_0.1_units"]) / 10
    token = vendor.credit(inputs["subclass"], amount, at=_at(inputs["issue_datetime"]),
                          rnd=inputs["rnd"])
    assert token.digits == expected["token"]
    assert token.tid == expected["tid(derived)"]
    assert f"{token.block:016x}" == expected["plaintext_block_hex(derived)"]
    decoded = sts.decode(expected["token"], key, inputs["ea"])
    assert decoded.crc_ok
    assert (decoded.cls, decoded.subclass, decoded.kind) == (0, inputs["subclass"], "credit")
    assert decoded.fields["rnd"] == inputs["rnd"]
    assert decoded.fields["tid"] == expected["tid(derived)"]
    assert decoded.fields["amount_field"] == int(expected["amount_field_hex(derived)"], 16)
    assert decoded.fields["amount"] >= amount  # rounded up, in favour of the customer


@pytest.mark.parametrize("vector", _vectors("token_class0_currency"))
def test_class0_currency(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    key = _key(inputs)
    vendor = sts.Vendor(key, inputs["ea"], int(inputs["base_date"]), inputs["kt"])
    amount = Decimal(inputs["amount_in_0.00001_units"]) / 100000
    if inputs["negative"]:
        amount = -amount
    token = vendor.currency(inputs["subclass"], amount, at=_at(inputs["issue_datetime"]))
    assert token.digits == expected["token"]
    assert token.tid == expected["tid(derived)"]
    decoded = sts.decode(expected["token"], key, inputs["ea"])
    assert decoded.crc_ok
    assert decoded.kind == "currency"
    assert decoded.fields["amount_field"] == int(expected["amount_field_hex(derived)"], 16)
    assert decoded.fields["sign"] << 3 | decoded.fields["exponent"] >> 2 == expected[
        "sign_exponent_nibble(derived)"]
    # in favour of the customer both ways: more credit, or a smaller debit
    assert decoded.fields["amount"] >= amount
    assert abs(decoded.fields["amount"] - amount) < Decimal("0.0001")


@pytest.mark.parametrize("vector", _vectors("token_class1_test"))
def test_class1_test(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    digits = 2 if inputs["mfr_code_bits"] == 8 else 4
    control = int(inputs["control_hex"], 16)
    token = sts.test_token(control, mfr_code=inputs["mfr_code"], mfr_digits=digits)
    assert token.digits == expected["token"]
    block = expected.get("block64_hex(derived, not encrypted)")
    if block:
        assert f"{token.block:016x}" == block
    decoded = sts.decode(expected["token"])  # class 1 decodes without a key
    assert decoded.crc_ok
    assert (decoded.cls, decoded.subclass, decoded.kind) == (1, inputs["subclass"], "test")
    assert decoded.fields == {"control": control, "mfr_code": inputs["mfr_code"],
                              "mfr_digits": digits}


def _register_token(vendor: sts.Vendor, inputs: dict) -> sts.Token:
    at = _at(inputs["issue_datetime"])
    field16 = int(inputs["field16_hex"], 16)
    value = inputs.get("value") or ""
    watts_match = re.search(r"(\d+) W", value)
    watts = int(watts_match.group(1)) if watts_match else decode_count(field16)
    name, rnd = inputs["subclass_name"], inputs["rnd"]
    if name == "SetMaximumPowerLimit":
        return vendor.power_limit(watts, at=at, rnd=rnd)
    if name == "SetMaximumPhasePowerUnbalanceLimit":
        return vendor.phase_unbalance(watts, at=at, rnd=rnd)
    if name == "ClearCredit":
        register = "all" if field16 == 0xFFFF else field16
        return vendor.clear_credit(register, at=at, rnd=rnd)
    if name == "ClearTamperCondition":
        return vendor.clear_tamper(at=at, rnd=rnd)
    raise AssertionError(f"no vector handler for {name}")


@pytest.mark.parametrize("vector", _vectors("token_class2_register"))
def test_class2_register(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    key = _key(inputs)
    vendor = sts.Vendor(key, inputs["ea"], int(inputs["base_date"]), inputs["kt"])
    token = _register_token(vendor, inputs)
    assert token.digits == expected["token"]
    assert token.tid == expected["tid_used(derived)"]
    decoded = sts.decode(expected["token"], key, inputs["ea"])
    assert decoded.crc_ok
    assert (decoded.cls, decoded.subclass) == (2, inputs["subclass"])
    assert decoded.block & 0xFFFF == token_crc(2, decoded.subclass, decoded.block >> 16
                                                & ((1 << 44) - 1))
    assert (decoded.block >> 16) & 0xFFFF == int(inputs["field16_hex"], 16)
    assert decoded.fields["tid"] == expected["tid_used(derived)"]


@pytest.mark.parametrize("vector", _vectors("token_class2_keychange_set"))
def test_class2_keychange_set(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    old_key = bytes.fromhex(inputs["old_decoder_key_hex(derived)"])
    new_key = bytes.fromhex(inputs["new_decoder_key_hex(derived)"])
    ea = inputs["ea"]
    vendor = sts.Vendor(old_key, ea)
    tokens = vendor.key_change(new_key, new_kt=inputs["new_kt"], new_krn=inputs["new_krn"],
                               new_ti=inputs["new_ti"], new_ken=inputs["new_ken"],
                               new_sgc=inputs["new_sgc"], rollover=bool(inputs["rollover_RO"]))
    assert [t.digits for t in tokens] == expected["tokens"]
    first = sts.decode(expected["tokens"][0], old_key, ea)
    assert first.crc_ok and first.kind == "kct1"
    assert first.fields["ro"] == inputs["rollover_RO"]
    assert first.fields["kct3_follows"] == inputs["bit50_3KCT_or_ResB"]

    # the meter takes the set in reverse order and ends with the new key register
    register = sts.KeyRegister(old_key, ea, kt=2, krn=1, ti="01", sgc="123456")
    meter = sts.MeterValidator(register, mfr_code=0)
    outcomes = [meter.commit(meter.validate(d)) for d in reversed(expected["tokens"])]
    assert outcomes[-1] == sts.Outcome.ACCEPT
    assert set(outcomes[:-1]) <= {sts.Outcome.KCT_HELD}
    new = meter.register
    assert new.decoder_key == new_key
    assert (new.kt, new.krn, new.ti, new.ken) == (inputs["new_kt"], inputs["new_krn"],
                                                  inputs["new_ti"], inputs["new_ken"])
    if inputs["new_sgc"]:
        assert new.sgc == inputs["new_sgc"]


@pytest.mark.parametrize("vector", _vectors("amount_encoding"))
def test_amount_encoding(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    field = int(expected["field16_hex"], 16)
    assert encode_count(inputs["count_0.1"]) == field
    assert sts.encode_amount(Decimal(str(inputs["amount_units"]))) == field
    assert sts.decode_amount(field) == Decimal(str(expected["decoded_units"]))


@pytest.mark.parametrize("vector", _vectors("crc16"))
def test_crc16(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    assert sts.crc16(int(inputs["data56_hex"], 16)) == int(expected["crc_hex"], 16)
    f = inputs["fields"]
    payload = f["rnd"] << 40 | f["tid"] << 16 | int(f["field16_hex"], 16)
    assert token_crc(f["class"], f["subclass"], payload) == int(expected["crc_hex"], 16)


@pytest.mark.parametrize("vector", _vectors("tid"))
def test_tid(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    base = int(inputs["base_date"][:4])
    if "issue" in inputs:
        tid = tid_from_datetime(_at(inputs["issue"]), base)
        assert tid == expected["tid"]
        if "tid_bin" in expected:
            assert f"{tid:024b}" == expected["tid_bin"]
    else:
        when = datetime_from_tid(inputs["tid"], base)
        assert f"{when:%Y-%m-%d %H:%M}" == expected["datetime"]
