"""The file tree of a virtual eMRTD chip: EF.CardAccess in the master file, the LDS files in the eMRTD
application (ICAO 9303-10 §3.10), with their file control parameters (ISO 7816-4 §7.4.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cardlib.lds import files as lds_files
from cardlib.lds.files import FileSpec
from cardlib.lds.tlv import encode_tlv

MF_FID = 0x3F00
TAG_FCP = 0x62
TAG_FILE_SIZE = 0x80
TAG_DESCRIPTOR = 0x82
TAG_FID = 0x83
TAG_DF_NAME = 0x84
TRANSPARENT_EF = b"\x01"


@dataclass(frozen=True)
class ChipFile:
    """One elementary file on the chip: where it lives and its bytes."""

    spec: FileSpec
    content: bytes

    @property
    def in_master_file(self) -> bool:
        """True for EF.CardAccess and EF.CardSecurity, the files outside the eMRTD application."""
        return self.spec in lds_files.MASTER_FILE_FILES

    def fcp(self) -> bytes:
        """The FCP template returned by SELECT with P2 00/04: size, transparent EF, file identifier."""
        size = len(self.content).to_bytes(max(2, (len(self.content).bit_length() + 7) // 8), "big")
        return encode_tlv(TAG_FCP, encode_tlv(TAG_FILE_SIZE, size) + encode_tlv(TAG_DESCRIPTOR, TRANSPARENT_EF)
                          + encode_tlv(TAG_FID, self.spec.fid_bytes))


class FileSystem:
    """The chip's files, found by file identifier or short file identifier, per selected directory."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = [ChipFile(lds_files.by_name(name), bytes(content)) for name, content in files.items()]

    def __len__(self) -> int:
        return len(self._files)

    def by_fid(self, fid: int, *, in_application: bool) -> ChipFile | None:
        """The EF with identifier ``fid`` in the current directory (MF or eMRTD application)."""
        return next((f for f in self._files if f.spec.fid == fid and f.in_master_file != in_application), None)

    def by_sfi(self, sfi: int, *, in_application: bool) -> ChipFile | None:
        """The EF with short identifier ``sfi`` in the current directory; else EF.CardAccess answers from
        anywhere, as chips allow (in the application SFI 1C is EF.CVCA when the chip has one)."""
        here = next((f for f in self._files if f.spec.sfi == sfi and f.in_master_file != in_application), None)
        if here is not None or sfi != lds_files.EF_CARD_ACCESS.sfi:
            return here
        return next((f for f in self._files if f.spec == lds_files.EF_CARD_ACCESS), None)

    def has(self, name: str) -> bool:
        """True when the chip holds the file called ``name``."""
        return any(f.spec.name == name for f in self._files)

    def content(self, name: str) -> bytes | None:
        """The bytes of the file called ``name``, or None."""
        return next((f.content for f in self._files if f.spec.name == name), None)


def application_fcp(aid: bytes) -> bytes:
    """The FCP returned when the eMRTD application is selected with P2 00/04: its DF name."""
    return encode_tlv(TAG_FCP, encode_tlv(TAG_DF_NAME, aid))
