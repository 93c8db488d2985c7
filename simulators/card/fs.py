"""The card's file system: DFs and transparent EFs, their access rules, and their FCP templates.

FCPs carry what OpenSC's iasecc driver needs and nothing it would trip on: an exact ``80``
size for EFs (reads past the end fail), ``82`` type, ``83`` id, ``84`` name for DFs, ``88``
SFI, ``8A`` life cycle, and ``A1 { 8C AMB SCB… }`` access rules (without ``8C`` the select
fails in OpenSC).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.card.tlv import tlv

ALWAYS = 0x00
NEVER = 0xFF


def user_auth(se: int) -> int:
    """SCB ``1x``: the user authenticated under security environment ``x``."""
    return 0x10 | (se & 0x0F)


@dataclass(frozen=True)
class Access:
    """An EF's or DF's security conditions, one SCB per operation (``00`` always, ``FF`` never)."""

    read: int = ALWAYS
    update: int = NEVER
    delete: int = NEVER

    def compact(self) -> bytes:
        """``8C 07 7B`` + SCBs for delete, terminate, activate, deactivate, update, read."""
        return tlv(0x8C, bytes([0x7B, self.delete, NEVER, NEVER, NEVER, self.update, self.read]))


@dataclass
class EF:
    fid: int
    content: bytearray
    sfi: int | None = None
    access: Access = field(default_factory=Access)
    size: int | None = None
    """Allocated size; defaults to the content's (writable EFs keep room to grow)."""
    parent: DF | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.size is None:
            self.size = len(self.content)
        elif len(self.content) < self.size:
            self.content = self.content + bytearray(self.size - len(self.content))

    @property
    def length(self) -> int:
        assert self.size is not None
        return self.size

    def fcp(self) -> bytes:
        parts = [
            tlv(0x80, self.length.to_bytes(2, "big")),
            tlv(0x82, b"\x01"),
            tlv(0x83, self.fid.to_bytes(2, "big")),
        ]
        if self.sfi is not None:
            parts.append(tlv(0x88, bytes([self.sfi << 3])))
        parts += [tlv(0x8A, b"\x05"), tlv(0xA1, self.access.compact())]
        return tlv(0x62, *parts)


@dataclass
class DF:
    fid: int
    name: bytes = b""
    children: dict[int, EF | DF] = field(default_factory=dict)
    parent: DF | None = field(default=None, repr=False)
    access: Access = field(default_factory=lambda: Access(read=ALWAYS, update=NEVER, delete=NEVER))

    def add(self, node: EF | DF) -> EF | DF:
        node.parent = self
        self.children[node.fid] = node
        return node

    def child(self, fid: int) -> EF | DF | None:
        return self.children.get(fid)

    def by_sfi(self, sfi: int) -> EF | None:
        return next((c for c in self.children.values() if isinstance(c, EF) and c.sfi == sfi), None)

    def fcp(self) -> bytes:
        parts = [tlv(0x82, b"\x38"), tlv(0x83, self.fid.to_bytes(2, "big"))]
        if self.name:
            parts.append(tlv(0x84, self.name))
        parts += [tlv(0x8A, b"\x05"), tlv(0xA1, self.access.compact())]
        return tlv(0x62, *parts)

    def walk(self) -> list[DF]:
        """This DF and every DF below it."""
        found = [self]
        for node in self.children.values():
            if isinstance(node, DF):
                found += node.walk()
        return found
