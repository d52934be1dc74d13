"""The meter side: decrypt, authenticate and judge tokens (IEC 62055-41 7.3, 8).

A `MeterValidator` holds what a meter keeps in non-volatile memory for its tokens: the
decoder key register (`KeyRegister`), the TID store and the key change sections held so
far. `validate(digits)` judges a token without changing anything and raises the
`TokenRejected` subclass of the outcome; `commit(validated)` then stores its effect.

Rules (in this order):
- Format: 20 digits, < 2**66, class 0..2 (FormatError).
- Authentication: class 1 by CRC and manufacturer code (this meter's or 0); class 0 and 2
  by the CRC (CRC_C for currency) after decryption with the register's key (CRCError).
  Key change sections may also decrypt under `extra_kct_keys` (a fault hook).
- Function: reserved subclasses, credit subclasses the meter does not support, the
  optional management tokens it does not support, and a 4th key change section on a meter
  of 64-bit keys only (`wide_keys` False) (FunctionError).
- Key type: any class 0/2 token under a DCTK (KT 3) on a keypad meter, a key change to a
  DITK (KT 0) when the register's KT is not 0, or to a DCTK on a keypad meter
  (KeyTypeError); a credit token under a DDTK (KT 1) (DDTKError).
- Class 0 and 2 tokens except key change sections, against the TID:
  key expiry (TID >> 16) > KEN when the meter implements it (KeyExpiredError); the TID is
  already in the store (UsedError); the TID is below the smallest TID of a full store, or
  below the TID floor (`initial_tid`: the manufacture TID the store is deemed pre-filled
  with, reset to 0 by a rollover key change) (OldError).
- Range: ClearCredit of a register other than 0..7 or 0xFFFF (RangeError).

Accepted tokens: the TID goes into the store (when full, the smallest TID is dropped).
Key change sections are held by subclass, in any order, until the set is complete: sections
1+2 for a 64-bit key (plus section 3 when the 1st section's bit 50 says a 3rd follows),
1+2+3+4 for a 128-bit key. The key is 128-bit when the register's EA is 11, when section 4
is held, or when section 3 is held and the 1st section does not announce a 3-token set
(so a meter moving from EA07 to EA11 must get section 3 or 4 before both 1 and 2 are in).
The complete set replaces key, KRN, KT, TI and KEN (and the SGC when the set carries one;
the EA becomes 11 for a 128-bit key); RO = 1 also clears the TID store and the floor. The
base date is not carried by the tokens and stays as it was.

Fault hooks (for the emulated meter): `check_used`, `check_old` and `check_key_expiry`
switch single rules off; `extra_kct_keys` lists further keys under which key change
sections are accepted (e.g. the previous decoder key).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sts.ciphers import decrypt_block
from sts.digits import parse_digits, to_digits
from sts.errors import (
    CRCError,
    DDTKError,
    FormatError,
    FunctionError,
    KeyExpiredError,
    KeyFormatError,
    KeyTypeError,
    MfrCodeError,
    OldError,
    Outcome,
    RangeError,
    TokenFormatError,
    UsedError,
)
from sts.tid import parse_base_date
from sts.tokens import KCT_KINDS, block_fields, crc_ok, kind_of

_MASK64 = 0xFFFFFFFFFFFFFFFF
_NOT_27_28 = ~(3 << 27) & _MASK64
_CLEARABLE_REGISTERS = frozenset(range(8)) | {0xFFFF}


@dataclass
class KeyRegister:
    """The meter's DecoderKeyRegister and the key data that goes with it."""

    decoder_key: bytes = field(repr=False)
    ea: str
    kt: int
    krn: int
    ti: str
    sgc: str
    ken: int = 255
    base_date: int = 1993

    def __post_init__(self) -> None:
        self.ea = f"{int(self.ea):02d}" if str(self.ea).isdigit() else str(self.ea)
        if self.ea not in ("07", "09", "11"):
            raise KeyFormatError(f"encryption algorithm {self.ea!r} must be 07, 09 or 11")
        want = 16 if self.ea == "11" else 8
        if len(self.decoder_key) != want:
            raise KeyFormatError(
                f"decoder key for EA{self.ea} must be {want} bytes, got {len(self.decoder_key)}"
            )
        self.decoder_key = bytes(self.decoder_key)
        self.base_date = parse_base_date(self.base_date)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the key in hex: this is the meter's own non-volatile memory)."""
        data = asdict(self)
        data["decoder_key"] = self.decoder_key.hex()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRegister:
        """The register saved by `to_dict`."""
        values = dict(data)
        values["decoder_key"] = bytes.fromhex(values["decoder_key"])
        return cls(**values)


@dataclass(slots=True)
class ValidatedToken:
    """A token the meter accepts (pending `commit`); `fields` are decoded on first use."""

    digits: str
    cls: int
    subclass: int
    kind: str
    tid: int | None
    block: int  # plaintext 64-bit data block
    _fields: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def fields(self) -> dict[str, Any]:
        """The named fields (amount as Decimal under "amount", "watts", "register", ...)."""
        if self._fields is None:
            self._fields = block_fields(self.cls, self.block)
        return self._fields


ALL_CREDIT_SUBCLASSES = (0, 1, 2, 3, 4, 5, 6, 7)


class MeterValidator:
    """A meter's token decoder and judge, with its key register and TID store."""

    def __init__(self, register: KeyRegister, *, mfr_code: int, tid_store_depth: int = 20,
                 initial_tid: int = 0, key_expiry: bool = True,
                 supported_credit_subclasses: Iterable[int] = ALL_CREDIT_SUBCLASSES,
                 phase_unbalance: bool = True, tariff_rate: bool = True,
                 water_factor: bool = True, keypad: bool = True,
                 wide_keys: bool = True, check_used: bool = True, check_old: bool = True,
                 check_key_expiry: bool = True,
                 extra_kct_keys: Iterable[bytes] = ()) -> None:
        if tid_store_depth < 1:
            raise ValueError(f"TID store depth {tid_store_depth} must be at least 1")
        self.register = register
        self.mfr_code = mfr_code
        self.tid_store_depth = tid_store_depth
        self.initial_tid = initial_tid
        self.key_expiry = key_expiry
        self.supported_credit_subclasses = frozenset(supported_credit_subclasses)
        self.phase_unbalance = phase_unbalance
        self.tariff_rate = tariff_rate
        self.water_factor = water_factor
        self.keypad = keypad
        self.wide_keys = wide_keys
        self.check_used = check_used
        self.check_old = check_old
        self.check_key_expiry = check_key_expiry
        self.extra_kct_keys: list[bytes] = [bytes(k) for k in extra_kct_keys]
        self._tids: list[int] = []  # sorted
        self._tid_floor = initial_tid
        self._held: dict[int, int] = {}  # KCT subclass -> plaintext block

    def __repr__(self) -> str:  # never shows the key
        r = self.register
        return (f"MeterValidator(ea={r.ea!r}, kt={r.kt}, krn={r.krn}, ti={r.ti!r}, "
                f"sgc={r.sgc!r}, ken={r.ken}, tids={len(self._tids)}, held={self.held_sections})")

    # --- state views -----------------------------------------------------------------------

    @property
    def tids(self) -> tuple[int, ...]:
        """The TID store, smallest first."""
        return tuple(self._tids)

    @property
    def tid_floor(self) -> int:
        """TIDs below this are old (the manufacture TID; 0 after a rollover key change)."""
        return self._tid_floor

    @property
    def held_sections(self) -> list[int]:
        """Key change sections held so far, by number (1..4), in order."""
        return sorted({3: 1, 4: 2, 8: 3, 9: 4}[s] for s in self._held)

    # --- judging ---------------------------------------------------------------------------

    def validate(self, digits: str) -> ValidatedToken:
        """Decrypt, authenticate and judge a token; raises a TokenRejected subclass.

        Changes no state: call `commit` with the result to store its effect.
        """
        try:
            number = parse_digits(digits)
        except TokenFormatError as exc:
            raise FormatError(str(exc)) from None
        cls = (number >> 27) & 3
        raw = (number & _NOT_27_28) | ((number >> 64) & 3) << 27
        text = digits if len(digits) == 20 else to_digits(number)
        if cls == 3:
            raise FormatError(f"token {text} is of class 3, which is reserved")
        if cls == 1:
            return self._validate_class1(text, raw)
        register = self.register
        block = decrypt_block(register.ea, register.decoder_key, raw)
        if not crc_ok(cls, block):
            block = self._try_extra_kct_keys(cls, raw)
        subclass = block >> 60
        kind = kind_of(cls, subclass)
        self._check_function(cls, subclass, kind)
        if register.kt == 3 and self.keypad:
            raise KeyTypeError("tokens under a DCTK (key type 3) are for magnetic-card meters")
        if kind in KCT_KINDS:
            if kind == "kct1":
                self._check_new_key_type((block >> 48) & 3)
            return ValidatedToken(text, cls, subclass, kind, None, block)
        if cls == 0 and register.kt == 1:
            raise DDTKError("credit tokens under a DDTK (key type 1) are refused")
        tid = (block >> 32) & 0xFFFFFF
        self._check_tid(tid)
        if kind == "clear_credit" and block >> 16 & 0xFFFF not in _CLEARABLE_REGISTERS:
            raise RangeError(f"register {block >> 16 & 0xFFFF} to clear is not 0..7 or 0xFFFF")
        return ValidatedToken(text, cls, subclass, kind, tid, block)

    def _validate_class1(self, text: str, block: int) -> ValidatedToken:
        if not crc_ok(1, block):
            raise CRCError(f"token {text}: CRC mismatch (a typing error?)")
        subclass = block >> 60
        kind = kind_of(1, subclass)
        if kind != "test":
            raise FunctionError(f"class 1 subclass {subclass} is not supported")
        fields = block_fields(1, block)
        if fields["mfr_code"] not in (0, self.mfr_code):
            raise MfrCodeError(
                f"manufacturer code {fields['mfr_code']} is neither this meter's nor 0"
            )
        return ValidatedToken(text, 1, subclass, kind, None, block, fields)

    def _try_extra_kct_keys(self, cls: int, raw: int) -> int:
        if cls == 2:
            for key in self.extra_kct_keys:
                block = decrypt_block(self.register.ea, key, raw)
                if crc_ok(cls, block) and kind_of(cls, block >> 60) in KCT_KINDS:
                    return block
        raise CRCError("CRC mismatch after decryption (wrong key, wrong meter or a typo)")

    def _check_function(self, cls: int, subclass: int, kind: str) -> None:
        if kind == "reserved":
            raise FunctionError(f"class {cls} subclass {subclass} is reserved")
        if cls == 0:
            if subclass not in self.supported_credit_subclasses:
                raise FunctionError(f"credit subclass {subclass} is not supported by this meter")
        elif ((kind == "phase_unbalance" and not self.phase_unbalance)
              or (kind == "tariff_rate" and not self.tariff_rate)
              or (kind == "water_factor" and not self.water_factor)):
            raise FunctionError(f"{kind.replace('_', ' ')} tokens are not supported")
        elif kind == "kct4" and not self.wide_keys:
            raise FunctionError("a 4th key change section (128-bit key): this meter takes "
                                "64-bit keys only")

    def _check_new_key_type(self, new_kt: int) -> None:
        if new_kt == 0 and self.register.kt != 0:
            raise KeyTypeError("key change to a DITK (key type 0) is only allowed from a DITK")
        if new_kt == 3 and self.keypad:
            raise KeyTypeError("key change to a DCTK (key type 3) on a keypad meter")

    def _check_tid(self, tid: int) -> None:
        ken = self.register.ken
        if self.key_expiry and self.check_key_expiry and (tid >> 16) > ken:
            raise KeyExpiredError(f"TID {tid} is past the key expiry number {ken}")
        store = self._tids
        if self.check_used and store:
            at = bisect.bisect_left(store, tid)
            if at < len(store) and store[at] == tid:
                raise UsedError(f"TID {tid} is already in the TID store")
        if self.check_old:
            if tid < self._tid_floor:
                raise OldError(f"TID {tid} is older than the meter ({self._tid_floor})")
            if len(store) >= self.tid_store_depth and tid < store[0]:
                raise OldError(f"TID {tid} is below the smallest TID {store[0]} of a full store")

    # --- storing ---------------------------------------------------------------------------

    def commit(self, validated: ValidatedToken) -> Outcome:
        """Store the effect of an accepted token: ACCEPT, or KCT_HELD for a key change
        section whose set is not complete yet."""
        if validated.kind in KCT_KINDS:
            self._held[validated.subclass] = validated.block
            if not self._kct_complete():
                return Outcome.KCT_HELD
            self._apply_key_change()
            return Outcome.ACCEPT
        tid = validated.tid
        if tid is not None:
            store = self._tids
            at = bisect.bisect_left(store, tid)
            if at < len(store) and store[at] == tid:
                if self.check_used:
                    raise UsedError(f"TID {tid} is already in the TID store")
            else:
                store.insert(at, tid)
                if len(store) > self.tid_store_depth:
                    del store[0]
        return Outcome.ACCEPT

    def accept(self, digits: str) -> Outcome:
        """`validate` then `commit` in one call (raises TokenRejected when refused)."""
        return self.commit(self.validate(digits))

    def _held_fields(self, subclass: int) -> dict[str, Any]:
        return block_fields(2, self._held[subclass])

    def _wide_key(self) -> bool:
        held = self._held
        if self.register.ea == "11" or 9 in held:
            return True
        return 8 in held and 3 in held and not self._held_fields(3)["kct3_follows"]

    def _kct_complete(self) -> bool:
        held = self._held
        if 3 not in held or 4 not in held:
            return False
        if self._wide_key():
            return 8 in held and 9 in held
        if self._held_fields(3)["kct3_follows"]:
            return 8 in held
        return True

    def _apply_key_change(self) -> None:
        first, second = self._held_fields(3), self._held_fields(4)
        old = self.register
        sgc = old.sgc
        if self._wide_key():
            third, fourth = self._held_fields(8), self._held_fields(9)
            key_int = (first["nkho"] << 96 | third["nkmo2"] << 64 | fourth["nkmo1"] << 32
                       | second["nklo"])
            key = key_int.to_bytes(16, "big")
            sgc = f"{fourth['sgc_high'] << 12 | third['sgc_low']:06d}"
            ea = "11"
        else:
            key = (first["nkho"] << 32 | second["nklo"]).to_bytes(8, "big")
            if first["kct3_follows"]:
                sgc = f"{self._held_fields(8)['sgc_3kct']:06d}"
            ea = old.ea
        self.register = KeyRegister(
            decoder_key=key, ea=ea, kt=first["kt"], krn=first["krn"],
            ti=f"{second['ti']:02d}", sgc=sgc,
            ken=first["ken_high"] << 4 | second["ken_low"], base_date=old.base_date,
        )
        self._held.clear()
        if first["ro"]:
            self._tids.clear()
            self._tid_floor = 0

    # --- non-volatile state ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (key register in hex: the meter's own non-volatile memory)."""
        return {
            "register": self.register.to_dict(),
            "mfr_code": self.mfr_code,
            "tid_store_depth": self.tid_store_depth,
            "initial_tid": self.initial_tid,
            "key_expiry": self.key_expiry,
            "supported_credit_subclasses": sorted(self.supported_credit_subclasses),
            "phase_unbalance": self.phase_unbalance,
            "tariff_rate": self.tariff_rate,
            "water_factor": self.water_factor,
            "keypad": self.keypad,
            "wide_keys": self.wide_keys,
            "check_used": self.check_used,
            "check_old": self.check_old,
            "check_key_expiry": self.check_key_expiry,
            "extra_kct_keys": [k.hex() for k in self.extra_kct_keys],
            "tids": list(self._tids),
            "tid_floor": self._tid_floor,
            "kct_held": {str(s): f"{b:016x}" for s, b in sorted(self._held.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeterValidator:
        """A validator in the state saved by `to_dict`."""
        validator = cls(
            KeyRegister.from_dict(data["register"]),
            mfr_code=data["mfr_code"],
            tid_store_depth=data.get("tid_store_depth", 20),
            initial_tid=data.get("initial_tid", 0),
            key_expiry=data.get("key_expiry", True),
            supported_credit_subclasses=data.get("supported_credit_subclasses",
                                                 ALL_CREDIT_SUBCLASSES),
            phase_unbalance=data.get("phase_unbalance", True),
            tariff_rate=data.get("tariff_rate", True),
            water_factor=data.get("water_factor", True),
            keypad=data.get("keypad", True),
            wide_keys=data.get("wide_keys", True),
            check_used=data.get("check_used", True),
            check_old=data.get("check_old", True),
            check_key_expiry=data.get("check_key_expiry", True),
            extra_kct_keys=[bytes.fromhex(k) for k in data.get("extra_kct_keys", [])],
        )
        validator._tids = sorted(int(t) for t in data.get("tids", []))
        validator._tid_floor = int(data.get("tid_floor", validator.initial_tid))
        validator._held = {int(s): int(b, 16) for s, b in data.get("kct_held", {}).items()}
        return validator
