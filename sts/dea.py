"""EA09: single DES (FIPS 46-3) on the 64-bit token block.

Deprecated: IEC 62055-41:2018 says EA09 "shall not be used in new products". It is kept so
the rig can still vend for, and decode tokens of, meters in the field that use it. Key and
block are taken as big-endian bytes (no public EA09 vectors exist to confirm the order).
"""

from __future__ import annotations

from functools import lru_cache

from Crypto.Cipher import DES

__all__ = ["dea_decrypt", "dea_encrypt"]


@lru_cache(maxsize=256)
def _cipher(key: bytes):
    if len(key) != 8:
        raise ValueError(f"a DES (EA09) key is 8 bytes, got {len(key)}")
    return DES.new(key, DES.MODE_ECB)


def dea_encrypt(key: bytes, block: int) -> int:
    """EA09 encryption of a 64-bit block (deprecated algorithm)."""
    return int.from_bytes(_cipher(bytes(key)).encrypt(block.to_bytes(8, "big")), "big")


def dea_decrypt(key: bytes, block: int) -> int:
    """EA09 decryption of a 64-bit block (deprecated algorithm)."""
    return int.from_bytes(_cipher(bytes(key)).decrypt(block.to_bytes(8, "big")), "big")
