"""Where each LDS file lives on the chip: name, file identifier, short file identifier, outer tag.

ICAO 9303-10 §4.6 and the CCCD profile (shared docs, "Files on the chip").
"""

from __future__ import annotations

from dataclasses import dataclass

from cardlib.errors import DecodeError

EMRTD_AID = bytes.fromhex("A0000002471001")


@dataclass(frozen=True)
class FileSpec:
    """One elementary file of the eMRTD application (or EF.CardAccess in the master file)."""

    name: str
    fid: int
    sfi: int
    tag: int | None
    dg_number: int | None = None

    @property
    def fid_bytes(self) -> bytes:
        """The two-byte file identifier used by SELECT."""
        return self.fid.to_bytes(2, "big")


def _dg(number: int, tag: int) -> FileSpec:
    return FileSpec(f"DG{number}", 0x0100 + number, number, tag, number)


# DG tags per ICAO 9303-10 Table 34.
_DG_TAGS = {1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68, 9: 0x69, 10: 0x6A,
            11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70}

EF_COM = FileSpec("EF.COM", 0x011E, 0x1E, 0x60)
EF_SOD = FileSpec("EF.SOD", 0x011D, 0x1D, 0x77)
EF_CARD_ACCESS = FileSpec("EF.CardAccess", 0x011C, 0x1C, None)
# EF.CardSecurity (ICAO 9303-11 §9.2, BSI TR-03110-3 A.1.2): in the master file, so its FID and SFI are those
# of EF.SOD in the eMRTD application; it comes after EF.SOD in ALL_FILES, so by_fid/by_sfi still name EF.SOD.
EF_CARD_SECURITY = FileSpec("EF.CardSecurity", 0x011D, 0x1D, None)
# EF.CVCA (BSI TR-03110-1 A.1.2.2): the CVCA keys the chip trusts for Terminal Authentication, in the eMRTD
# application with the FID and SFI EF.CardAccess has in the master file; after it in ALL_FILES, as above.
EF_CVCA = FileSpec("EF.CVCA", 0x011C, 0x1C, None)
DATA_GROUPS: dict[int, FileSpec] = {n: _dg(n, tag) for n, tag in _DG_TAGS.items()}
ALL_FILES: tuple[FileSpec, ...] = (EF_CARD_ACCESS, EF_COM, *DATA_GROUPS.values(), EF_SOD, EF_CARD_SECURITY, EF_CVCA)
MASTER_FILE_FILES: frozenset[FileSpec] = frozenset({EF_CARD_ACCESS, EF_CARD_SECURITY})
_BY_NAME: dict[str, FileSpec] = {spec.name: spec for spec in ALL_FILES}

# Files on a CCCD chip, in the order a reader fetches them.
CCCD_DATA_GROUPS: tuple[int, ...] = (1, 2, 3, 13, 14, 15)


def by_name(name: str) -> FileSpec:
    """The file called ``name`` (``"DG13"``, ``"EF.SOD"``); KeyError for no such file."""
    return _BY_NAME[name]


def is_file_name(name: str) -> bool:
    """Whether ``name`` names an LDS file (a card image holds no other)."""
    return name in _BY_NAME


def by_fid(fid: int) -> FileSpec | None:
    """The file with identifier ``fid``, or None."""
    return next((spec for spec in ALL_FILES if spec.fid == fid), None)


def by_sfi(sfi: int) -> FileSpec | None:
    """The file with short identifier ``sfi``, or None."""
    return next((spec for spec in ALL_FILES if spec.sfi == sfi), None)


def dg_number_for_tag(tag: int, *, file: str = "EF.COM") -> int:
    """The data group number that uses outer tag ``tag`` (as listed in EF.COM's tag list)."""
    for number, dg_tag in _DG_TAGS.items():
        if dg_tag == tag:
            return number
    raise DecodeError(f"tag {tag:02X} is not a data group tag", file=file)


def dg_tag(number: int) -> int:
    """The outer tag of data group ``number``."""
    return _DG_TAGS[number]
