"""The meter-side validator: one test (at least) per outcome, key change sets, NV state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import sts
from sts.digits import block_to_digits
from sts.tokens import make_block

KEY = bytes.fromhex("e653341f9d5bf36f")        # DKGA02 test meter, SGC 123456 TI 01 KRN 1
NEW_KEY = bytes.fromhex("060b8643c59a27f1")    # same meter, TI 02
OTHER_KEY = bytes.fromhex("e94023262e9993c2")  # the 13-digit-DRN test meter
KEY11 = bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d")
NEW_KEY11 = bytes.fromhex("b208834372ef892ef6e04c28593090d4")
T0 = datetime(2004, 3, 1, 13, 55)


def register(key: bytes = KEY, ea: str = "07", kt: int = 2, ken: int = 255) -> sts.KeyRegister:
    return sts.KeyRegister(key, ea, kt=kt, krn=1, ti="01", sgc="123456", ken=ken)


def meter(reg: sts.KeyRegister | None = None, **options) -> sts.MeterValidator:
    options.setdefault("mfr_code", 12)
    return sts.MeterValidator(reg or register(), **options)


def crafted(cls: int, subclass: int, payload: int, key: bytes = KEY, ea: str = "07") -> str:
    block = make_block(cls, subclass, payload)
    return block_to_digits(sts.encrypt_block(ea, key, block) if cls != 1 else block, cls)


def rejected(validator: sts.MeterValidator, digits: str) -> sts.Outcome:
    with pytest.raises(sts.TokenRejected) as info:
        validator.validate(digits)
    return info.value.outcome


# --- accept and the TID store ---------------------------------------------------------------


def test_accept_credit_stores_tid_and_validate_changes_nothing():
    m, vendor = meter(), sts.Vendor(KEY)
    token = vendor.credit(0, "12.5", at=T0, rnd=3)
    accepted = m.validate(token.digits)
    assert (accepted.kind, accepted.tid, accepted.fields["amount"]) == ("credit", 5871715,
                                                                        sts.decode_amount(125))
    assert m.tids == ()  # validate alone stores nothing
    assert m.commit(accepted) == sts.Outcome.ACCEPT
    assert m.tids == (5871715,)


def test_used():
    m, token = meter(), sts.Vendor(KEY).credit(0, 1, at=T0)
    m.accept(token.digits)
    assert rejected(m, token.digits) == sts.Outcome.USED
    with pytest.raises(sts.UsedError):
        m.commit(sts.MeterValidator(register(), mfr_code=12).validate(token.digits))


def test_full_store_drops_smallest_and_old():
    m, vendor = meter(tid_store_depth=3), sts.Vendor(KEY)
    tokens = [vendor.credit(0, 1, at=T0) for _ in range(4)]
    for token in tokens:
        assert m.accept(token.digits) == sts.Outcome.ACCEPT
    assert m.tids == (5871716, 5871717, 5871718)
    assert rejected(m, tokens[0].digits) == sts.Outcome.OLD
    # below the smallest of a full store, though never seen
    assert rejected(m, vendor.credit(0, 1, tid=100).digits) == sts.Outcome.OLD
    # not full: an older, unseen TID is accepted
    fresh = meter(tid_store_depth=5)
    fresh.accept(tokens[3].digits)
    assert fresh.accept(tokens[1].digits) == sts.Outcome.ACCEPT


def test_old_below_initial_tid():
    m = meter(initial_tid=5871715)
    vendor = sts.Vendor(KEY)
    assert rejected(m, vendor.credit(0, 1, tid=5871714).digits) == sts.Outcome.OLD
    assert m.accept(vendor.credit(0, 1, tid=5871716).digits) == sts.Outcome.ACCEPT


def test_key_expired():
    m = meter(register(ken=0x59))
    vendor = sts.Vendor(KEY)
    assert m.accept(vendor.credit(0, 1, tid=0x59FFFF).digits) == sts.Outcome.ACCEPT
    assert rejected(m, vendor.clear_tamper(tid=0x5A0000).digits) == sts.Outcome.KEY_EXPIRED
    no_expiry = meter(register(ken=0x59), key_expiry=False)
    assert no_expiry.accept(vendor.credit(0, 1, tid=0x5A0001).digits) == sts.Outcome.ACCEPT


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("digits", ["2371610050118319419", "2371610050118319419a",
                                    "73786976294838206464", "0" * 21])
def test_format_error(digits):
    assert rejected(meter(), digits) == sts.Outcome.FORMAT_ERROR


def test_format_error_for_class_3():
    digits = block_to_digits(0x0123456789ABCDEF, 3)
    with pytest.raises(sts.FormatError, match="class 3"):
        meter().validate(digits)


def test_crc_error_wrong_key_and_typo():
    m = meter()
    other = sts.Vendor(OTHER_KEY).credit(0, 1, at=T0, rnd=5)
    assert rejected(m, other.digits) == sts.Outcome.CRC_ERROR
    good = sts.Vendor(KEY).credit(0, 1, at=T0, rnd=5).digits  # fixed: a typo stays class 0
    typo = good[:5] + str((int(good[5]) + 1) % 10) + good[6:]
    assert rejected(m, typo) == sts.Outcome.CRC_ERROR
    test = sts.test_token(1).digits
    assert rejected(m, test[:-1] + str((int(test[-1]) + 1) % 10)) == sts.Outcome.CRC_ERROR


def test_class1_manufacturer_code():
    m = meter(mfr_code=12)
    assert m.accept(sts.test_token(1).digits) == sts.Outcome.ACCEPT           # code 0
    assert m.accept(sts.test_token(2, mfr_code=12).digits) == sts.Outcome.ACCEPT
    assert m.accept(sts.test_token(2, mfr_code=12, mfr_digits=4).digits) == sts.Outcome.ACCEPT
    assert rejected(m, sts.test_token(2, mfr_code=13).digits) == sts.Outcome.MFR_CODE_ERROR
    assert m.validate(sts.test_token(0x8).digits).fields["control"] == 0x8
    assert m.tids == ()


# --- function, key type, range --------------------------------------------------------------


def test_function_error_for_reserved_and_unsupported():
    m = meter(supported_credit_subclasses=[0], phase_unbalance=False)
    assert rejected(m, crafted(0, 9, 5 << 40 | 5871715 << 16 | 1)) == sts.Outcome.FUNCTION_ERROR
    assert rejected(m, crafted(2, 12, 5 << 40 | 5871715 << 16)) == sts.Outcome.FUNCTION_ERROR
    assert rejected(m, crafted(1, 2, 0)) == sts.Outcome.FUNCTION_ERROR
    vendor = sts.Vendor(KEY)
    assert rejected(m, vendor.credit(1, 1, at=T0).digits) == sts.Outcome.FUNCTION_ERROR
    assert rejected(m, vendor.currency(4, 1, at=T0).digits) == sts.Outcome.FUNCTION_ERROR
    assert rejected(m, vendor.phase_unbalance(10, at=T0).digits) == sts.Outcome.FUNCTION_ERROR
    assert m.accept(vendor.credit(0, 1, at=T0).digits) == sts.Outcome.ACCEPT


def test_ddtk_refuses_credit_but_not_management():
    m = meter(register(kt=1))
    vendor = sts.Vendor(KEY, kt=1)
    assert rejected(m, vendor.credit(0, 1, at=T0).digits) == sts.Outcome.DDTK_ERROR
    assert rejected(m, vendor.currency(4, 1, at=T0).digits) == sts.Outcome.DDTK_ERROR
    assert m.accept(vendor.power_limit(1000, at=T0).digits) == sts.Outcome.ACCEPT


def test_key_type_errors():
    vendor = sts.Vendor(KEY)
    dctk = meter(register(kt=3))
    assert rejected(dctk, vendor.credit(0, 1, at=T0).digits) == sts.Outcome.KEY_TYPE_ERROR
    card_meter = meter(register(kt=3), keypad=False)
    assert card_meter.accept(vendor.credit(0, 1, at=T0).digits) == sts.Outcome.ACCEPT
    m = meter()
    to_ditk = vendor.key_change(NEW_KEY, new_kt=0, new_krn=1, new_ti="01")
    assert rejected(m, to_ditk[0].digits) == sts.Outcome.KEY_TYPE_ERROR
    to_dctk = vendor.key_change(NEW_KEY, new_kt=3, new_krn=1, new_ti="01")
    assert rejected(m, to_dctk[0].digits) == sts.Outcome.KEY_TYPE_ERROR
    ditk_meter = meter(register(kt=0))
    for token in to_ditk:
        ditk_meter.accept(token.digits)
    assert ditk_meter.register.kt == 0


def test_range_error_for_register_to_clear():
    m, vendor = meter(), sts.Vendor(KEY)
    assert rejected(m, vendor.clear_credit(8, at=T0).digits) == sts.Outcome.RANGE_ERROR
    assert m.accept(vendor.clear_credit(7, at=T0).digits) == sts.Outcome.ACCEPT
    assert m.accept(vendor.clear_credit("all", at=T0).digits) == sts.Outcome.ACCEPT


def test_overflow_is_the_meters_not_the_validators():
    assert sts.CreditOverflowError().outcome == sts.Outcome.OVERFLOW
    assert issubclass(sts.CreditOverflowError, sts.TokenRejected)


# --- key change -----------------------------------------------------------------------------


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_token_key_change_any_order(order):
    m, vendor = meter(), sts.Vendor(KEY)
    m.accept(vendor.credit(0, 1, at=T0).digits)
    kct = vendor.key_change(NEW_KEY, new_kt=2, new_krn=2, new_ti="02", new_ken=0x70)
    first, second = (kct[i].digits for i in order)
    assert m.accept(first) == sts.Outcome.KCT_HELD
    assert m.held_sections == [order[0] + 1]
    assert m.register.decoder_key == KEY
    assert m.accept(second) == sts.Outcome.ACCEPT
    reg = m.register
    assert (reg.decoder_key, reg.krn, reg.ti, reg.ken, reg.sgc) == (NEW_KEY, 2, "02", 0x70,
                                                                    "123456")
    assert m.held_sections == []
    assert m.tids == (5871715,)  # RO = 0 keeps the TID store
    # tokens under the old key now fail, the new key works
    assert rejected(m, vendor.credit(0, 1, at=T0 + timedelta(hours=1)).digits) == \
        sts.Outcome.CRC_ERROR
    assert m.accept(sts.Vendor(NEW_KEY).credit(0, 1, at=T0 + timedelta(hours=1)).digits) == \
        sts.Outcome.ACCEPT


def test_key_change_sections_are_not_tid_checked():
    m, vendor = meter(register(ken=0)), sts.Vendor(KEY)
    kct = vendor.key_change(KEY, new_kt=2, new_krn=1, new_ti="01", new_ken=255)
    assert [m.accept(t.digits) for t in kct] == [sts.Outcome.KCT_HELD, sts.Outcome.ACCEPT]
    assert m.register.ken == 255


def test_rollover_clears_tid_store_and_floor():
    m, vendor = meter(initial_tid=5000000), sts.Vendor(KEY)
    m.accept(vendor.credit(0, 1, at=T0).digits)
    for token in vendor.key_change(NEW_KEY, new_kt=2, new_krn=5, new_ti="01", rollover=True):
        m.accept(token.digits)
    assert m.tids == () and m.tid_floor == 0
    new_base = sts.Vendor(NEW_KEY, base_date=2035)
    assert m.accept(new_base.credit(0, 1, at=datetime(2035, 1, 1, 8)).digits) == \
        sts.Outcome.ACCEPT


def test_three_token_key_change_sets_sgc():
    m, vendor = meter(), sts.Vendor(KEY)
    kct = vendor.key_change(NEW_KEY, new_kt=2, new_krn=3, new_ti="01", new_sgc="201457")
    assert len(kct) == 3
    assert [m.accept(kct[i].digits) for i in (2, 0, 1)] == [
        sts.Outcome.KCT_HELD, sts.Outcome.KCT_HELD, sts.Outcome.ACCEPT]
    assert (m.register.decoder_key, m.register.sgc, m.register.ea) == (NEW_KEY, "201457", "07")


def test_four_token_key_change_on_ea11():
    m = meter(register(KEY11, "11"))
    kct = sts.Vendor(KEY11, "11").key_change(NEW_KEY11, new_kt=2, new_krn=1, new_ti="02",
                                             new_sgc="123457")
    outcomes = [m.accept(kct[i].digits) for i in (3, 0, 1, 2)]
    assert outcomes == [sts.Outcome.KCT_HELD] * 3 + [sts.Outcome.ACCEPT]
    assert (m.register.decoder_key, m.register.sgc, m.register.ea) == (NEW_KEY11, "123457",
                                                                       "11")


def test_ea07_meter_moves_to_a_128_bit_key():
    m, vendor = meter(), sts.Vendor(KEY)
    kct = vendor.key_change(NEW_KEY11, new_kt=2, new_krn=1, new_ti="01", new_sgc="123456")
    assert [m.accept(kct[i].digits) for i in (3, 2, 0, 1)][-1] == sts.Outcome.ACCEPT
    assert (m.register.decoder_key, m.register.ea) == (NEW_KEY11, "11")


def test_a_meter_of_64_bit_keys_refuses_a_4th_section():
    """wide_keys False (a profile's tokens.key_change_128bit = false): the 4th section of a
    128-bit set is a function the meter does not support, and nothing is held; the 2-token
    set still works; the setting survives a save and load."""
    narrow, vendor = meter(wide_keys=False), sts.Vendor(KEY)
    kct = vendor.key_change(NEW_KEY11, new_kt=2, new_krn=1, new_ti="01", new_sgc="123456")
    assert rejected(narrow, kct[3].digits) == sts.Outcome.FUNCTION_ERROR
    assert narrow.held_sections == []
    assert meter().accept(kct[3].digits) == sts.Outcome.KCT_HELD  # the default takes it
    two = vendor.key_change(NEW_KEY, new_kt=2, new_krn=2, new_ti="01")
    assert [narrow.accept(t.digits) for t in two] == [sts.Outcome.KCT_HELD, sts.Outcome.ACCEPT]
    loaded = sts.MeterValidator.from_dict(json.loads(json.dumps(narrow.to_dict())))
    assert loaded.wide_keys is False


def test_fault_hooks_relax_single_rules():
    vendor = sts.Vendor(KEY)
    token = vendor.credit(0, 1, at=T0)
    lax = meter(check_used=False, check_old=False, check_key_expiry=False,
                tid_store_depth=1)
    lax.register.ken = 0
    assert lax.accept(token.digits) == sts.Outcome.ACCEPT
    assert lax.accept(token.digits) == sts.Outcome.ACCEPT           # used
    assert lax.accept(vendor.credit(0, 1, tid=10).digits) == sts.Outcome.ACCEPT  # old
    # key change sections under a previous key
    old_vendor = sts.Vendor(OTHER_KEY)
    kct = old_vendor.key_change(NEW_KEY, new_kt=2, new_krn=2, new_ti="01")
    strict = meter()
    assert rejected(strict, kct[0].digits) == sts.Outcome.CRC_ERROR
    hooked = meter(extra_kct_keys=[OTHER_KEY])
    assert [hooked.accept(t.digits) for t in kct][-1] == sts.Outcome.ACCEPT
    assert hooked.register.decoder_key == NEW_KEY
    # ... but only key change sections
    assert rejected(meter(extra_kct_keys=[OTHER_KEY]),
                    old_vendor.credit(0, 1, at=T0).digits) == sts.Outcome.CRC_ERROR


# --- non-volatile state ---------------------------------------------------------------------


def test_state_survives_save_and_load_mid_key_change():
    m, vendor = meter(tid_store_depth=4, initial_tid=7, phase_unbalance=False), sts.Vendor(KEY)
    m.accept(vendor.credit(0, 1, at=T0).digits)
    kct = vendor.key_change(NEW_KEY, new_kt=2, new_krn=2, new_ti="02")
    assert m.accept(kct[0].digits) == sts.Outcome.KCT_HELD
    saved = json.loads(json.dumps(m.to_dict()))
    loaded = sts.MeterValidator.from_dict(saved)
    assert loaded.to_dict() == m.to_dict()
    assert loaded.tids == (5871715,) and loaded.held_sections == [1]
    again = vendor.credit(0, 1, tid=5871715)  # the TID stored before the reload
    assert rejected(loaded, again.digits) == sts.Outcome.USED
    assert loaded.accept(kct[1].digits) == sts.Outcome.ACCEPT
    assert loaded.register.decoder_key == NEW_KEY
    assert "e653" not in repr(m) and "e653" not in repr(m.register)
