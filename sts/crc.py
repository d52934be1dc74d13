"""CRC and CRC_C of STS tokens (IEC 62055-41 6.3.7 and 6.3.22).

The standard's CRC (polynomial x^16 + x^15 + x^2 + 1, register preset to FFFF) runs over the
50 data bits (class, subclass and the 44 payload bits), left padded with 6 zero bits to
7 bytes. That is CRC-16/MODBUS over the 7 big-endian bytes with the two result bytes
swapped. CRC_C (currency tokens, class 0 subclass 4..7) is the same run over the 7 bytes
followed by one extra byte 0x01.

Table driven: the token hot path computes one CRC per vend and one per decode.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()
# The register after feeding the extra CRC_C byte 0x01 depends only on the register before:
# the same table step, kept apart so crc_c reads like the standard.
_CRC_C_EXTRA_BYTE = 0x01


def _modbus(data50: int, extra: int | None = None) -> int:
    t = _TABLE
    crc = 0xFFFF
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 48)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 40)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 32)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 24)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 16)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (data50 >> 8)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ data50) & 0xFF]
    if extra is not None:
        crc = (crc >> 8) ^ t[(crc ^ extra) & 0xFF]
    return ((crc & 0xFF) << 8) | (crc >> 8)


def crc16(data50: int) -> int:
    """CRC field of a token over its 50 data bits (`class<<48 | subclass<<44 | payload`)."""
    if not 0 <= data50 < 1 << 56:
        raise ValueError(f"CRC data must fit 56 bits, got {data50:#x}")
    return _modbus(data50)


def crc_c(data50: int) -> int:
    """CRC_C field of a currency token: the CRC over the 7 data bytes plus the byte 0x01."""
    if not 0 <= data50 < 1 << 56:
        raise ValueError(f"CRC data must fit 56 bits, got {data50:#x}")
    return _modbus(data50, _CRC_C_EXTRA_BYTE)


def token_crc(cls: int, subclass: int, payload44: int) -> int:
    """The CRC (or CRC_C) field a token of this class and subclass must carry."""
    data50 = (cls << 48) | (subclass << 44) | payload44
    if cls == 0 and 4 <= subclass <= 7:
        return _modbus(data50, _CRC_C_EXTRA_BYTE)
    return _modbus(data50)
