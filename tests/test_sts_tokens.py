"""Token building blocks: amounts, TIDs, CRC/CRC_C, 20-digit form, layouts, the Vendor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

import sts
from sts.amount import (
    amount_to_tenths,
    decode_count,
    decode_currency_count,
    encode_count,
    encode_currency,
    encode_currency_count,
    encode_watts,
)
from sts.crc import crc16, crc_c, token_crc
from sts.digits import extract_class, insert_class, parse_digits
from sts.tid import (
    TidAllocator,
    datetime_from_tid,
    is_reserved_tid,
    parse_base_date,
    rollover_date,
    tid_from_datetime,
)
from sts.tokens import block_fields, kct_payloads, make_block

KEY07 = bytes.fromhex("e653341f9d5bf36f")
KEY11 = bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d")


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "field"), [
    (0, 0x0000), (16383, 0x3FFF), (16384, 0x4000), (16385, 0x4001), (16393, 0x4001),
    (180214, 0x7FFF), (180215, 0x8000), (180223, 0x8000), (1818524, 0xBFFF),
    (1818525, 0xC000), (18201624, 0xFFFF),
])
def test_unit_amount_smallest_exponent_rounded_up(count, field):
    assert encode_count(count) == field
    assert decode_count(field) >= count


def test_every_unit_field_round_trips():
    for field in range(0x10000):
        assert encode_count(decode_count(field)) == field


def test_amount_input_rounds_up_in_favour_of_customer():
    assert amount_to_tenths("10.01") == 101
    assert amount_to_tenths(Decimal("10.1")) == 101
    assert amount_to_tenths(10) == 100
    assert amount_to_tenths(0.3) == 3  # float taken by its repr, not 0.299999...
    assert sts.decode_amount(sts.encode_amount("1673.8")) == Decimal("1674.4")


def test_amount_past_maximum_names_the_maximum():
    with pytest.raises(sts.AmountRangeError, match=r"maximum 1820162\.4"):
        sts.encode_amount("1820162.41")
    with pytest.raises(sts.AmountRangeError, match="negative"):
        sts.encode_amount("-1")
    with pytest.raises(sts.AmountRangeError, match="not a number"):
        sts.encode_amount("ten")
    assert sts.encode_amount("1820162.4") == 0xFFFF


def test_watts_encoding_and_limit():
    assert encode_watts(1000) == 0x03E8
    assert encode_watts(18201624) == 0xFFFF
    with pytest.raises(sts.AmountRangeError, match="18201624 W"):
        encode_watts(18201625)


@pytest.mark.parametrize(("amount", "se", "field", "decoded"), [
    ("1", 0, 0x60AA, "1.00004"),
    ("-1", 8, 0x60A9, "-0.99994"),
    ("0.16383", 0, 0x3FFF, "0.16383"),
    ("-0.16383", 8, 0x3FFF, "-0.16383"),
    ("0", 0, 0, "0.00000"),
])
def test_currency_sign_exponent_and_rounding(amount, se, field, decoded):
    assert encode_currency(amount) == (se, field)
    assert sts.decode_currency(se, field) == Decimal(decoded)


def test_currency_uses_five_exponent_bits():
    # 1e6 units = 1e11 steps needs e = 7: e0,e1 in the field, e2 in the S&E nibble
    se, field = encode_currency("1000000")
    exponent = (se & 7) << 2 | field >> 14
    assert exponent == 7
    assert sts.decode_currency(se, field) >= Decimal("1000000")
    # negative amounts round toward zero, positive ones away: both favour the customer
    for count in (123456789, 10**20 + 7, 16384, 180223):
        assert decode_currency_count(*encode_currency_count(count)) >= count
        assert -count <= decode_currency_count(*encode_currency_count(-count)) <= 0


def test_currency_past_maximum():
    with pytest.raises(sts.AmountRangeError, match="maximum"):
        encode_currency("1820344444444444444444444444444.42625")
    assert sts.decode_currency(*encode_currency(sts.CURRENCY_MAX)) == sts.CURRENCY_MAX


# --- TID ------------------------------------------------------------------------------------


def test_tid_drops_seconds_and_knows_base_dates():
    assert tid_from_datetime(datetime(2006, 4, 23, 23, 10, 3)) == 6999790
    assert tid_from_datetime(datetime(2014, 1, 1, 8, 0), 2014) == 480
    assert tid_from_datetime(datetime(2035, 1, 1, 8, 0), "2035") == 480
    assert datetime_from_tid(480, 2035) == datetime(2035, 1, 1, 8, 0)
    assert parse_base_date("93") == parse_base_date("1993-01-01") == 1993
    with pytest.raises(sts.KeyFormatError, match="2000"):
        parse_base_date(2000)


def test_aware_datetime_is_taken_in_utc():
    wib = timezone(timedelta(hours=7))
    assert tid_from_datetime(datetime(2004, 3, 1, 20, 55, tzinfo=wib)) == 5871715


@pytest.mark.parametrize(("base", "last"), [
    (1993, datetime(2024, 11, 24, 20, 15)),
    (2014, datetime(2045, 11, 24, 20, 15)),
    (2035, datetime(2066, 11, 24, 20, 15)),
])
def test_rollover_date_of_each_base(base, last):
    assert rollover_date(base) == last
    assert tid_from_datetime(last, base) == 0xFFFFFF
    with pytest.raises(sts.TIDRangeError, match=f"{last:%Y-%m-%d %H:%M}"):
        tid_from_datetime(last + timedelta(minutes=1), base)
    with pytest.raises(sts.TIDRangeError, match="before the base date"):
        tid_from_datetime(datetime(base, 1, 1) - timedelta(minutes=1), base)


def test_reserved_minute_and_strictly_increasing_tids():
    allocator = TidAllocator(1993)
    day = datetime(2004, 3, 29)
    got = [allocator.allocate(day + timedelta(minutes=m)) for m in (0, 1, 3, 3, 3)]
    assert got == [5911200, 5911202, 5911203, 5911204, 5911205]
    assert is_reserved_tid(5911201) and not is_reserved_tid(5911202)
    # a bump that lands on 00:01 skips it too
    late = TidAllocator(1993)
    t0 = late.allocate(day - timedelta(minutes=1))  # 23:59
    assert [late.allocate(day - timedelta(minutes=1)) for _ in range(2)] == [t0 + 1, t0 + 3]
    # an explicit TID is used as given
    assert TidAllocator(1993).allocate(tid=5911201) == 5911201


def test_vendor_refuses_tid_past_ken():
    allocator = TidAllocator(1993, ken=0x55)
    assert allocator.allocate(tid=0x55FFFF) == 0x55FFFF
    with pytest.raises(sts.KeyExpiryError, match="key expiry number 85"):
        allocator.allocate(tid=0x560000)
    vendor = sts.Vendor(KEY07, ken=0x55)
    with pytest.raises(sts.KeyExpiryError):
        vendor.credit(0, 1, at=datetime(2004, 3, 1))  # TID 0x599863: high byte 0x59 > 0x55


# --- CRC, digits ----------------------------------------------------------------------------


def test_crc_and_crc_c_differ_only_for_currency():
    data = 0x0005C02A552710
    assert crc16(data) == 0x1970
    assert crc_c(data) != crc16(data)
    payload = data & ((1 << 44) - 1)
    assert token_crc(0, 0, payload) == crc16(data)
    assert token_crc(0, 4, payload) == crc_c((4 << 44) | payload)
    assert token_crc(2, 4, payload) == crc16((2 << 48) | (4 << 44) | payload)


def test_class_bit_transposition():
    block = 0x492083C0AE7CE455
    number = insert_class(block, 0)
    assert f"{number:020d}" == "23716100501183194197"
    assert extract_class(number) == (0, block)
    all_ones = (1 << 64) - 1
    for cls in range(4):
        n = insert_class(all_ones, cls)
        assert n >> 64 == 3 and (n >> 27) & 3 == cls
        assert extract_class(n) == (cls, all_ones)


@pytest.mark.parametrize("text", ["2371 6100 5011 8319 4197", "2371-6100-5011-8319-4197",
                                  " 23716100501183194197 ", "2371  6100 5011 8319 4197"])
def test_parse_digits_accepts_grouping(text):
    assert parse_digits(text) == 23716100501183194197


@pytest.mark.parametrize(("text", "message"), [
    ("2371610050118319419", "19 digits"),
    ("237161005011831941970", "21 digits"),
    ("2371610050118319419x", "non-digit 'x' at position 20"),
    ("99999999999999999999", "2\\*\\*66"),
    ("23716 100501183194197", "4-4-4-4-4"),
    ("", "0 digits"),
])
def test_parse_digits_names_the_problem(text, message):
    with pytest.raises(sts.TokenFormatError, match=message):
        parse_digits(text)


# --- layouts --------------------------------------------------------------------------------


def test_test_token_layouts_and_ranges():
    assert f"{sts.test_token(0xFFFFFFFFF).block:016x}" == "0fffffffff005eff"
    token = sts.test_token(0x10, mfr_code=1234, mfr_digits=4)
    assert token.fields == {"control": 0x10, "mfr_code": 1234, "mfr_digits": 4}
    with pytest.raises(sts.AmountRangeError, match="2-digit"):
        sts.test_token(1, mfr_code=100)
    with pytest.raises(sts.AmountRangeError, match="control"):
        sts.test_token(1 << 28, mfr_digits=4)
    with pytest.raises(sts.AmountRangeError, match="2 or 4"):
        sts.test_token(1, mfr_digits=3)


def test_three_token_key_change_carries_sgc():
    sections = kct_payloads(KEY07, kt=2, krn=3, ti="07", ken=0xA5, sgc="201457")
    assert [s for s, _ in sections] == [3, 4, 8]
    first = block_fields(2, make_block(2, 3, sections[0][1]))
    assert first == {"ken_high": 0xA, "krn": 3, "ro": 0, "kct3_follows": 1, "kt": 2,
                     "nkho": 0xE653341F}
    second = block_fields(2, make_block(2, 4, sections[1][1]))
    assert second == {"ken_low": 5, "ti": 7, "nklo": 0x9D5BF36F}
    third = block_fields(2, make_block(2, 8, sections[2][1]))
    assert third["sgc_3kct"] == 201457 and sections[2][1] & 0xFFFFF == 0


def test_four_token_key_change_places_key_words():
    sections = dict(kct_payloads(KEY11, kt=2, krn=1, ti="02", sgc="201457", rollover=True))
    fields = {s: block_fields(2, make_block(2, s, p)) for s, p in sections.items()}
    assert fields[3]["nkho"] == 0xF94B6ED3 and fields[3]["ro"] == 1
    assert fields[8]["nkmo2"] == 0x53C3BFDB and fields[8]["sgc_low"] == 0x2F1
    assert fields[9]["nkmo1"] == 0x113E2D3A and fields[9]["sgc_high"] == 0x031
    assert fields[4]["nklo"] == 0x7EA3C41D
    with pytest.raises(sts.KeyFormatError, match="supply group code"):
        kct_payloads(KEY11, kt=2, krn=1, ti="02")


def test_reserved_subclasses_decode_to_raw_fields():
    block = make_block(0, 9, 0x123456789AB)
    assert block_fields(0, block) == {"data": 0x123456789AB}
    extended = block_fields(2, make_block(2, 10, 5 << 40 | 480 << 16 | (63 << 10 | 7)))
    assert (extended["tid"], extended["index"], extended["value"]) == (480, 63, 7)


# --- the Vendor -----------------------------------------------------------------------------


def test_vendor_tids_increase_within_a_minute():
    vendor = sts.Vendor(KEY07, rng=__import__("random").Random(1))
    at = datetime(2004, 3, 29, 0, 3, 30)
    tokens = [vendor.clear_credit("all", at=at) for _ in range(3)]
    assert [t.tid for t in tokens] == [5911203, 5911204, 5911205]
    assert vendor.last_tid == 5911205
    assert all(0 <= t.fields["rnd"] <= 15 for t in tokens)


def test_vendor_default_now_and_rnd():
    vendor = sts.Vendor(KEY07, base_date=2014)
    token = vendor.credit(0, 5)
    now = datetime.now(UTC).replace(tzinfo=None)
    assert abs(datetime_from_tid(token.tid, 2014) - now) < timedelta(minutes=2)
    assert vendor.credit(0, 5, rnd=9).fields["rnd"] == 9
    with pytest.raises(sts.AmountRangeError, match="random"):
        vendor.credit(0, 5, rnd=16)


def test_vendor_input_errors():
    with pytest.raises(sts.KeyFormatError, match="8 bytes"):
        sts.Vendor(KEY07[:7])
    with pytest.raises(sts.KeyFormatError, match="16 bytes"):
        sts.Vendor(KEY07, ea="11")
    vendor = sts.Vendor(KEY07)
    with pytest.raises(sts.AmountRangeError, match="subclass"):
        vendor.credit(4, 1)
    with pytest.raises(sts.AmountRangeError, match="subclass"):
        vendor.currency(0, 1)
    with pytest.raises(sts.AmountRangeError, match="register"):
        vendor.clear_credit("some")
    with pytest.raises(sts.AmountRangeError, match=r"0\.\.65535"):
        vendor.tariff_rate(70000)
    with pytest.raises(sts.TIDRangeError, match="2024-11-24 20:15"):
        vendor.credit(0, 1, at=datetime(2025, 1, 1))
    assert "e653" not in repr(vendor)


def test_token_str_and_grouping():
    token = sts.test_token(1)
    assert str(token) == token.digits == "00000000000150997584"
    assert token.grouped == "0000 0000 0001 5099 7584"
