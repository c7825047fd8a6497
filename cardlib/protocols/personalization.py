"""The personalization commands of the JMRTD passport applet: one home for the encoder and the virtual applet.

A blank applet takes CREATE FILE, SELECT and UPDATE BINARY for each LDS file, then PUT DATA for the BAC key seed
(the MRZ information, ``62``) and the Active Authentication RSA key (``60`` modulus, ``61`` private exponent),
and a last PUT DATA ``DE AD`` that locks it.  :mod:`cardlib.batch.encode` builds these commands for a physical
card and :mod:`cardlib.chip.applet` answers them as the applet does, both from this module.
"""

from __future__ import annotations

from cardlib.lds import files as lds_files
from cardlib.lds.tlv import encode_length, encode_tlv
from cardlib.protocols.apdu import SHORT_MAX_LC, CommandAPDU
from cardlib.protocols.instructions import Ins

TAG_CREATE_FILE = 0x63
TAG_MRZ_SEED = 0x62
TAG_AA_MODULUS = 0x60
TAG_AA_EXPONENT = 0x61
TAG_OCTET_STRING = 0x04
LOCK_P1P2 = 0xDEAD
"""P1-P2 of the PUT DATA that locks the applet: no personalization command is taken afterwards."""
CREATE_FILE_LENGTH = 4
"""Bytes in a CREATE FILE's ``63`` object: the file size (2) and its file identifier (2)."""
UPDATE_CHUNK = SHORT_MAX_LC
"""Bytes per UPDATE BINARY: the most a short APDU carries."""
PERSONALIZATION_INS = frozenset({Ins.CREATE_FILE, Ins.UPDATE_BINARY, Ins.PUT_DATA})
GET_UID = CommandAPDU(0xFF, Ins.GET_DATA, 0x00, 0x00, le=256)
"""PC/SC part 3 GET DATA: the contactless card's UID, answered by the reader (the encoder tells cards apart by it)."""


def select_applet() -> CommandAPDU:
    """SELECT of the eMRTD applet by AID, no answer data asked (``00 A4 04 0C 07 A0000002471001``)."""
    return CommandAPDU(0x00, Ins.SELECT, 0x04, 0x0C, lds_files.EMRTD_AID)


def select_file(fid: int) -> CommandAPDU:
    """SELECT of an EF by file identifier, no answer data asked (``00 A4 02 0C 02 <fid>``)."""
    return CommandAPDU(0x00, Ins.SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))


def create_file(fid: int, size: int) -> CommandAPDU:
    """CREATE FILE of an EF of ``size`` bytes: ``00 E0 00 00 06 63 04 <size> <fid>``."""
    body = size.to_bytes(2, "big") + fid.to_bytes(2, "big")
    return CommandAPDU(0x00, Ins.CREATE_FILE, 0x00, 0x00, bytes([TAG_CREATE_FILE, CREATE_FILE_LENGTH]) + body)


def update_binary(offset: int, chunk: bytes) -> CommandAPDU:
    """UPDATE BINARY of ``chunk`` at ``offset`` of the selected EF."""
    return CommandAPDU(0x00, Ins.UPDATE_BINARY, offset >> 8, offset & 0xFF, chunk)


def put_mrz_seed(mrz_information: str) -> CommandAPDU:
    """PUT DATA of the BAC key seed: ``62 L 04 <doc no> 04 <birth> 04 <expiry>`` from the MRZ information (check
    digits left out: the applet computes them), the document number without its ``<`` filler."""
    number, birth, expiry = mrz_information[:9], mrz_information[10:16], mrz_information[17:23]
    parts = (number.rstrip("<"), birth, expiry)
    seed = encode_tlv(TAG_MRZ_SEED, b"".join(encode_tlv(TAG_OCTET_STRING, part.encode("ascii")) for part in parts))
    return CommandAPDU(0x00, Ins.PUT_DATA, 0x00, TAG_MRZ_SEED, seed)


def put_key_part(tag: int, value: int, size: int) -> CommandAPDU:
    """PUT DATA of one half of the Active Authentication RSA key (``tag`` 60 or 61): ``<tag> 00 04 L <value>``,
    ``size`` bytes big-endian, the outer length 00 as the applet reads it."""
    octets = value.to_bytes(size, "big")
    return CommandAPDU(0x00, Ins.PUT_DATA, 0x00, tag,
                       bytes([tag, 0x00, TAG_OCTET_STRING]) + encode_length(len(octets)) + octets)


def lock() -> CommandAPDU:
    """The PUT DATA that locks the applet."""
    return CommandAPDU(0x00, Ins.PUT_DATA, LOCK_P1P2 >> 8, LOCK_P1P2 & 0xFF)


__all__ = ["GET_UID", "LOCK_P1P2", "PERSONALIZATION_INS", "TAG_AA_EXPONENT", "TAG_AA_MODULUS", "TAG_CREATE_FILE",
           "TAG_MRZ_SEED", "TAG_OCTET_STRING", "UPDATE_CHUNK", "create_file", "lock", "put_key_part", "put_mrz_seed",
           "select_applet", "select_file", "update_binary"]
