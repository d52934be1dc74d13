"""Keys as a type that cannot be printed by mistake.

A vending or decoder key is `bytes` to the crypto code, but a plan that records, prints or
asserts on one must never put it in a log, the record or the report. `SecretKey` is a
`bytes` (every STS function takes it as it is) whose repr, str, format and JSON form are
masked; only `reveal_hex()`, asked for by name, gives the key. The run's `Redactor`
(rig.record.run_record) still masks the hex, bytes-repr and integer forms of every key it
knows, for a
form a plan derives on its own (`key.hex()`, `int.from_bytes(key)`).
"""

from __future__ import annotations

MASK = "<key redacted>"


class SecretKey(bytes):
    """A key: bytes to the code, masked to every printer."""

    def __repr__(self) -> str:
        return f"SecretKey({MASK}, {len(self)} bytes)"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def reveal_hex(self) -> str:
        """The key in hex, for the one place the user asked to see it."""
        return bytes(self).hex()

    def __copy__(self) -> SecretKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SecretKey:
        return self  # immutable; copying must not go through pickling (refused below)

    def __reduce__(self) -> tuple[type[bytes], tuple[bytes]]:
        # pickled (e.g. by pytest-xdist) as plain bytes is a leak; refuse it loudly instead
        raise TypeError("a SecretKey is not pickled: it would leave the process unmasked")


def secret(key: bytes) -> SecretKey:
    """`key` as a SecretKey (an already wrapped key is returned as it is)."""
    return key if isinstance(key, SecretKey) else SecretKey(bytes(key))


def json_default(value: object) -> object:
    """`json.dumps(default=...)` for the record: a key is masked, anything else is str()."""
    if isinstance(value, SecretKey):
        return MASK
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)
