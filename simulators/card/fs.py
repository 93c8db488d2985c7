"""The card's file system: DFs and transparent EFs, their access rules, and their FCP templates.

FCPs are a real CPS3's, tag for tag and in its order (OpenSC issues 2223/2275, in
``card-cpx-real-cards.md``): ``80`` exact size (reads past the end fail), ``82`` type, ``83``
id, [``84`` name for DFs], ``88`` SFI, ``A1 { 8C 07 <contact SCBs>, 9C 07 <contactless SCBs> }``
and ``8A 05`` (operational). OpenSC's iasecc driver needs the ``8C`` (without it the select
fails) and ignores the contactless ``9C``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.card.tlv import tlv

ALWAYS = 0x00
NEVER = 0xFF
SM_ISSUER = 0x45
"""SCB ``45``: secure messaging under SE #5, the issuer's (EF.ATR's and EF.DIR's update and delete)."""


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

    def contactless(self) -> bytes:
        """``9C 07 7B`` + the same six SCBs over the contactless interface: what is free to read
        stays free, nothing else is allowed (a real CPS3: ``7B FF FF FF FF FF 00`` on its MF EFs)."""
        read = ALWAYS if self.read == ALWAYS else NEVER
        return tlv(0x9C, bytes([0x7B, NEVER, NEVER, NEVER, NEVER, NEVER, read]))

    def rules(self) -> bytes:
        return tlv(0xA1, self.compact(), self.contactless())


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
        parts += [self.access.rules(), tlv(0x8A, b"\x05")]
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
        parts += [self.access.rules(), tlv(0x8A, b"\x05")]
        return tlv(0x62, *parts)

    def walk(self) -> list[DF]:
        """This DF and every DF below it."""
        found = [self]
        for node in self.children.values():
            if isinstance(node, DF):
                found += node.walk()
        return found
