"""MISTY1 (RFC 2994, ISO/IEC 18033-3): the block cipher of STS encryption algorithm EA11.

IEC 62055-41:2018 added EA11 for 128-bit decoder keys (DKGA04). The token's 64-bit data
block is enciphered as 8 big-endian bytes with the 16-byte decoder key. MISTY1 is in neither
pycryptodome nor `cryptography`, so it is written here from the RFC; the S-boxes are the
RFC's tables. The key schedule is expanded once per `Misty1` object (and cached per key for
the int helpers), and FI runs as two 65536-entry table lookups around its key XOR.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["Misty1", "misty1_decrypt", "misty1_encrypt"]

S7: tuple[int, ...] = (
    27, 50, 51, 90, 59, 16, 23, 84, 91, 26, 114, 115, 107, 44, 102, 73,
    31, 36, 19, 108, 55, 46, 63, 74, 93, 15, 64, 86, 37, 81, 28, 4,
    11, 70, 32, 13, 123, 53, 68, 66, 43, 30, 65, 20, 75, 121, 21, 111,
    14, 85, 9, 54, 116, 12, 103, 83, 40, 10, 126, 56, 2, 7, 96, 41,
    25, 18, 101, 47, 48, 57, 8, 104, 95, 120, 42, 76, 100, 69, 117, 61,
    89, 72, 3, 87, 124, 79, 98, 60, 29, 33, 94, 39, 106, 112, 77, 58,
    1, 109, 110, 99, 24, 119, 35, 5, 38, 118, 0, 49, 45, 122, 127, 97,
    80, 34, 17, 6, 71, 22, 82, 78, 113, 62, 105, 67, 52, 92, 88, 125,
)

S9: tuple[int, ...] = (
    451, 203, 339, 415, 483, 233, 251, 53, 385, 185, 279, 491, 307, 9, 45, 211,
    199, 330, 55, 126, 235, 356, 403, 472, 163, 286, 85, 44, 29, 418, 355, 280,
    331, 338, 466, 15, 43, 48, 314, 229, 273, 312, 398, 99, 227, 200, 500, 27,
    1, 157, 248, 416, 365, 499, 28, 326, 125, 209, 130, 490, 387, 301, 244, 414,
    467, 221, 482, 296, 480, 236, 89, 145, 17, 303, 38, 220, 176, 396, 271, 503,
    231, 364, 182, 249, 216, 337, 257, 332, 259, 184, 340, 299, 430, 23, 113, 12,
    71, 88, 127, 420, 308, 297, 132, 349, 413, 434, 419, 72, 124, 81, 458, 35,
    317, 423, 357, 59, 66, 218, 402, 206, 193, 107, 159, 497, 300, 388, 250, 406,
    481, 361, 381, 49, 384, 266, 148, 474, 390, 318, 284, 96, 373, 463, 103, 281,
    101, 104, 153, 336, 8, 7, 380, 183, 36, 25, 222, 295, 219, 228, 425, 82,
    265, 144, 412, 449, 40, 435, 309, 362, 374, 223, 485, 392, 197, 366, 478, 433,
    195, 479, 54, 238, 494, 240, 147, 73, 154, 438, 105, 129, 293, 11, 94, 180,
    329, 455, 372, 62, 315, 439, 142, 454, 174, 16, 149, 495, 78, 242, 509, 133,
    253, 246, 160, 367, 131, 138, 342, 155, 316, 263, 359, 152, 464, 489, 3, 510,
    189, 290, 137, 210, 399, 18, 51, 106, 322, 237, 368, 283, 226, 335, 344, 305,
    327, 93, 275, 461, 121, 353, 421, 377, 158, 436, 204, 34, 306, 26, 232, 4,
    391, 493, 407, 57, 447, 471, 39, 395, 198, 156, 208, 334, 108, 52, 498, 110,
    202, 37, 186, 401, 254, 19, 262, 47, 429, 370, 475, 192, 267, 470, 245, 492,
    269, 118, 276, 427, 117, 268, 484, 345, 84, 287, 75, 196, 446, 247, 41, 164,
    14, 496, 119, 77, 378, 134, 139, 179, 369, 191, 270, 260, 151, 347, 352, 360,
    215, 187, 102, 462, 252, 146, 453, 111, 22, 74, 161, 313, 175, 241, 400, 10,
    426, 323, 379, 86, 397, 358, 212, 507, 333, 404, 410, 135, 504, 291, 167, 440,
    321, 60, 505, 320, 42, 341, 282, 417, 408, 213, 294, 431, 97, 302, 343, 476,
    114, 394, 170, 150, 277, 239, 69, 123, 141, 325, 83, 95, 376, 178, 46, 32,
    469, 63, 457, 487, 428, 68, 56, 20, 177, 363, 171, 181, 90, 386, 456, 468,
    24, 375, 100, 207, 109, 256, 409, 304, 346, 5, 288, 443, 445, 224, 79, 214,
    319, 452, 298, 21, 6, 255, 411, 166, 67, 136, 80, 351, 488, 289, 115, 382,
    188, 194, 201, 371, 393, 501, 116, 460, 486, 424, 405, 31, 65, 13, 442, 50,
    61, 465, 128, 168, 87, 441, 354, 328, 217, 261, 98, 122, 33, 511, 274, 264,
    448, 169, 285, 432, 422, 205, 243, 92, 258, 91, 473, 324, 502, 173, 165, 58,
    459, 310, 383, 70, 225, 30, 477, 230, 311, 506, 389, 140, 143, 64, 437, 190,
    120, 0, 172, 272, 350, 292, 2, 444, 162, 234, 112, 508, 278, 348, 76, 450,
)


def _fi_plain(fi_in: int, fi_key: int) -> int:
    """The FI function of RFC 2994, step by step (for the key schedule)."""
    d9 = fi_in >> 7
    d7 = fi_in & 0x7F
    d9 = S9[d9] ^ d7
    d7 = (S7[d7] ^ d9) & 0x7F
    d7 ^= fi_key >> 9
    d9 ^= fi_key & 0x1FF
    d9 = S9[d9] ^ d7
    return (d7 << 9) | d9


@lru_cache(maxsize=1)
def _fi_tables() -> tuple[list[int], list[int]]:
    """(IN, OUT) with FI(x, k) == OUT[IN[x] ^ k] for every 16-bit x and k.

    FI's key enters as one 16-bit XOR (KIij1 on the 7-bit half, KIij2 on the 9-bit half)
    between two key-free halves, so each half is one 65536-entry table and FI is two
    lookups. Built on first use (about 60 ms).
    """
    inp = []
    for x in range(1 << 16):
        d9 = S9[x >> 7] ^ (x & 0x7F)
        d7 = (S7[x & 0x7F] ^ d9) & 0x7F
        inp.append((d7 << 9) | d9)
    out = []
    for y in range(1 << 16):
        d7 = y >> 9
        out.append((d7 << 9) | (S9[y & 0x1FF] ^ d7))
    return inp, out


_FoKeys = tuple[int, int, int, int, int, int, int]


def _fo(x: int, keys: _FoKeys, fin: list[int], fout: list[int]) -> int:
    """FO of RFC 2994 with the round's (KO1, KO2, KO3, KO4, KI1, KI2, KI3)."""
    ko1, ko2, ko3, ko4, ki1, ki2, ki3 = keys
    t1 = x & 0xFFFF
    t0 = fout[fin[(x >> 16) ^ ko1] ^ ki1] ^ t1
    t1 = fout[fin[t1 ^ ko2] ^ ki2] ^ t0
    t0 = fout[fin[t0 ^ ko3] ^ ki3] ^ t1
    return ((t1 ^ ko4) << 16) | t0


def _fl(x: int, keys: tuple[int, int]) -> int:
    """FL of RFC 2994 with the layer's (AND key, OR key)."""
    hi = x >> 16
    lo = (x & 0xFFFF) ^ (hi & keys[0])
    return ((hi ^ (lo | keys[1])) << 16) | lo


def _fl_inv(x: int, keys: tuple[int, int]) -> int:
    """FL^-1 of RFC 2994 with the layer's (AND key, OR key)."""
    lo = x & 0xFFFF
    hi = (x >> 16) ^ (lo | keys[1])
    return (hi << 16) | (lo ^ (hi & keys[0]))


class Misty1:
    """One MISTY1 key, expanded once: 8 rounds of FO with FL / FL^-1 layers every two.

    `encrypt_block` / `decrypt_block` take and give 8 bytes; `encrypt_int` / `decrypt_int`
    the same block as a big-endian 64-bit int (what the token engine uses).
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"a MISTY1 (EA11) key is 16 bytes, got {type(key).__name__}")
        if len(key) != 16:
            raise ValueError(f"a MISTY1 (EA11) key is 16 bytes, got {len(key)}")
        k = [int.from_bytes(key[2 * i : 2 * i + 2], "big") for i in range(8)]
        ek = k + [_fi_plain(k[i], k[(i + 1) % 8]) for i in range(8)]
        # FO round i: KOi1..KOi4, KIi1..KIi3 (RFC 2994 2.4).
        self._fo: tuple[_FoKeys, ...] = tuple(
            (ek[i], ek[(i + 2) % 8], ek[(i + 7) % 8], ek[(i + 4) % 8],
             ek[(i + 5) % 8 + 8], ek[(i + 1) % 8 + 8], ek[(i + 3) % 8 + 8])
            for i in range(8)
        )
        # FL layer i: (KLi1, KLi2) as used in "d1 ^= d0 & KLi1; d0 ^= d1 | KLi2".
        self._fl: tuple[tuple[int, int], ...] = tuple(
            (ek[i // 2], ek[(i // 2 + 6) % 8 + 8]) if i % 2 == 0
            else (ek[((i - 1) // 2 + 2) % 8 + 8], ek[((i - 1) // 2 + 4) % 8])
            for i in range(10)
        )

    def encrypt_int(self, block: int) -> int:
        """Encipher a 64-bit block given as an int (big-endian byte order)."""
        if not 0 <= block <= _MASK64:
            raise ValueError(f"a MISTY1 block is a 64-bit unsigned value, got {block:#x}")
        fin, fout = _fi_tables()
        fo, fl = self._fo, self._fl
        d0 = block >> 32
        d1 = block & 0xFFFFFFFF
        for r in (0, 2, 4, 6):
            d0 = _fl(d0, fl[r])
            d1 = _fl(d1, fl[r + 1]) ^ _fo(d0, fo[r], fin, fout)
            d0 ^= _fo(d1, fo[r + 1], fin, fout)
        return (_fl(d1, fl[9]) << 32) | _fl(d0, fl[8])

    def decrypt_int(self, block: int) -> int:
        """Decipher a 64-bit block given as an int (big-endian byte order)."""
        if not 0 <= block <= _MASK64:
            raise ValueError(f"a MISTY1 block is a 64-bit unsigned value, got {block:#x}")
        fin, fout = _fi_tables()
        fo, fl = self._fo, self._fl
        d0 = _fl_inv(block & 0xFFFFFFFF, fl[8])
        d1 = _fl_inv(block >> 32, fl[9])
        for r in (6, 4, 2, 0):
            d0 ^= _fo(d1, fo[r + 1], fin, fout)
            d1 = _fl_inv(d1 ^ _fo(d0, fo[r], fin, fout), fl[r + 1])
            d0 = _fl_inv(d0, fl[r])
        return (d0 << 32) | d1

    def encrypt_block(self, data: bytes) -> bytes:
        """Encipher 8 bytes."""
        return self.encrypt_int(_block_int(data)).to_bytes(8, "big")

    def decrypt_block(self, data: bytes) -> bytes:
        """Decipher 8 bytes."""
        return self.decrypt_int(_block_int(data)).to_bytes(8, "big")


_MASK64 = (1 << 64) - 1


def _block_int(data: bytes) -> int:
    if len(data) != 8:
        raise ValueError(f"a MISTY1 block is 8 bytes, got {len(data)}")
    return int.from_bytes(data, "big")


@lru_cache(maxsize=256)
def _cipher(key: bytes) -> Misty1:
    return Misty1(key)


def misty1_encrypt(key: bytes, block: int) -> int:
    """EA11 encryption of a 64-bit token block with a 16-byte decoder key."""
    return _cipher(bytes(key)).encrypt_int(block)


def misty1_decrypt(key: bytes, block: int) -> int:
    """EA11 decryption of a 64-bit token block with a 16-byte decoder key."""
    return _cipher(bytes(key)).decrypt_int(block)
