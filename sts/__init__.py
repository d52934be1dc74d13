"""STS (IEC 62055-41, editions 2014 and 2018): token vending, decoding and the meter's
validator, as a pure package (no I/O). See docs/CONTRACTS.md section 1 for the API."""

from sts.amount import (
    CURRENCY_MAX,
    UNIT_MAX,
    decode_amount,
    decode_currency,
    encode_amount,
    encode_currency,
)
from sts.ciphers import decrypt_block, encrypt_block, parse_key_hex
from sts.crc import crc16, crc_c
from sts.decode import DecodedToken, decode
from sts.digits import TokenTextError, parse_digits, token_text
from sts.errors import (
    AmountRangeError,
    CRCError,
    CreditOverflowError,
    DDTKError,
    FormatError,
    FunctionError,
    KeyExpiredError,
    KeyExpiryError,
    KeyFormatError,
    KeyTypeError,
    MfrCodeError,
    OldError,
    Outcome,
    RangeError,
    StsError,
    TIDRangeError,
    TokenFormatError,
    TokenRejected,
    UsedError,
)
from sts.keys import KeyType, derive_decoder_key, dkga02, dkga04
from sts.pan import MeterPAN, luhn_check_digit
from sts.tid import (
    TidAllocator,
    datetime_from_tid,
    is_reserved_tid,
    rollover_date,
    tid_from_datetime,
)
from sts.tokens import Token
from sts.validator import KeyRegister, MeterValidator, ValidatedToken
from sts.vend import Vendor, test_token

__all__ = [
    "CURRENCY_MAX",
    "UNIT_MAX",
    "AmountRangeError",
    "CRCError",
    "CreditOverflowError",
    "DDTKError",
    "DecodedToken",
    "FormatError",
    "FunctionError",
    "KeyExpiredError",
    "KeyExpiryError",
    "KeyFormatError",
    "KeyRegister",
    "KeyType",
    "KeyTypeError",
    "MeterPAN",
    "MeterValidator",
    "MfrCodeError",
    "OldError",
    "Outcome",
    "RangeError",
    "StsError",
    "TIDRangeError",
    "TidAllocator",
    "Token",
    "TokenFormatError",
    "TokenRejected",
    "TokenTextError",
    "UsedError",
    "ValidatedToken",
    "Vendor",
    "crc16",
    "crc_c",
    "datetime_from_tid",
    "decode",
    "decode_amount",
    "decode_currency",
    "decrypt_block",
    "derive_decoder_key",
    "dkga02",
    "dkga04",
    "encode_amount",
    "encode_currency",
    "encrypt_block",
    "is_reserved_tid",
    "luhn_check_digit",
    "parse_digits",
    "parse_key_hex",
    "rollover_date",
    "test_token",
    "tid_from_datetime",
    "token_text",
]
