"""BER-TLV as smart cards use it: build DER-style tag-length-value, and split a buffer into TLVs.

Tags are kept as the raw integer of their bytes (``0x7F41``, ``0xBF8101``), which is how the
IAS-ECC documents and OpenSC's traces write them.
"""

from __future__ import annotations

from collections.abc import Iterator


class TlvError(ValueError):
    """The bytes are not well-formed TLV (a card answers 6A80 to such data)."""


def tag_bytes(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def length_bytes(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, *values: bytes) -> bytes:
    """``tag`` around the concatenation of ``values``."""
    value = b"".join(values)
    return tag_bytes(tag) + length_bytes(len(value)) + value


def read_tag(data: bytes, pos: int) -> tuple[int, int]:
    """The tag starting at ``pos`` and the position after it."""
    if pos >= len(data):
        raise TlvError("truncated tag")
    start = pos
    tag, pos = data[pos], pos + 1
    if tag & 0x1F == 0x1F:
        while True:
            if pos >= len(data) or pos - start >= 4:
                raise TlvError("truncated or oversized tag")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    return tag, pos


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TlvError("truncated length")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 3 or pos + 1 + count > len(data):
        raise TlvError("bad length field")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def iter_tlv(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Each (tag, value) at the top level of ``data``; raises TlvError on malformed input."""
    pos = 0
    while pos < len(data):
        tag, pos = read_tag(data, pos)
        length, pos = read_length(data, pos)
        if pos + length > len(data):
            raise TlvError("value runs past the end")
        yield tag, data[pos : pos + length]
        pos += length


def find(data: bytes, tag: int) -> bytes | None:
    """The value of the first top-level ``tag`` in ``data``, or None."""
    return next((value for t, value in iter_tlv(data) if t == tag), None)
