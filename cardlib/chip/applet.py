"""The personalization state machine of JMRTD's passport applet, as measured on the real applet (issue 17).

A blank applet takes, in plain, after SELECT of the eMRTD AID:

* ``CREATE FILE`` ``00 E0 00 00`` with ``63 04 <size:2> <fid:2>``: a transparent EF of that size, zero-filled;
* ``SELECT`` by file identifier, then ``UPDATE BINARY`` ``00 D6 <offset:2>`` with the bytes at that offset;
* ``PUT DATA 00 DA 00 62`` with ``62 L 04 <document number> 04 <birth YYMMDD> 04 <expiry YYMMDD>``: the BAC key
  seed (the applet adds the check digits and derives the keys);
* ``PUT DATA 00 DA 00 60`` / ``00 61`` with ``60 00 04 L <modulus>`` / ``61 00 04 L <private exponent>``: the
  RSA Active Authentication key (the outer length is sent as 00; the applet reads the inner octet string);
* ``PUT DATA 00 DA DE AD``: lock.  From then on the applet is an ordinary BAC-only eMRTD chip.

Before the lock nothing can be read (READ BINARY, BAC and Active Authentication answer 6982); after it, every
personalization command answers 6982.  :class:`BlankApplet` is that state machine; the virtual chip's
blank-applet mode (:class:`cardlib.chip.blank.BlankAppletChip`) runs it until the lock, then serves the
written files with a :class:`~cardlib.chip.chip.VirtualChip`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from cardlib.card.image import CardImage, ChipSecrets
from cardlib.card.targets import ChipTarget
from cardlib.chip.files import Refused
from cardlib.errors import CardlibError, DecodeError
from cardlib.lds import files as lds_files
from cardlib.lds.dg15 import DG15
from cardlib.lds.tlv import iter_tlvs, read_tlv
from cardlib.model.mrz import DOCUMENT_NUMBER_LENGTH, check_digit
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.instructions import Ins, p1p2
from cardlib.protocols.personalization import (
    CREATE_FILE_LENGTH,
    LOCK_P1P2,
    PERSONALIZATION_INS,
    TAG_AA_EXPONENT,
    TAG_AA_MODULUS,
    TAG_CREATE_FILE,
    TAG_MRZ_SEED,
    TAG_OCTET_STRING,
)
from cardlib.protocols.status import (
    SW_CONDITIONS,
    SW_FILE_EXISTS,
    SW_NO_CURRENT_EF,
    SW_NO_SPACE,
    SW_NOT_FOUND,
    SW_OK,
    SW_SECURITY_STATUS,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
)

DATE_LENGTH = 6


@dataclass
class BlankApplet:
    """A JMRTD applet before its lock: files being created and written, the BAC seed, the AA key halves.

    ``target`` bounds what it accepts (file size, files outside a master file).  The written state survives
    power cycles (EEPROM); only the selection is dropped (:meth:`power_on`).
    """

    target: ChipTarget
    files: dict[int, bytearray] = field(default_factory=dict)
    mrz_seed: tuple[str, str, str] | None = None
    modulus: bytes | None = None
    exponent: bytes | None = None
    locked: bool = False
    _selected: bool = False
    _current: int | None = None

    def power_on(self) -> None:
        """Drop the selections (what was written stays)."""
        self._selected, self._current = False, None

    def process(self, cmd: CommandAPDU) -> ResponseAPDU:
        """Answer one plain command of the personalization phase."""
        try:
            return self._dispatch(cmd)
        except Refused as refused:
            return ResponseAPDU(b"", refused.sw)

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == Ins.SELECT:
            return self._select(cmd)
        if cmd.ins not in PERSONALIZATION_INS:
            raise Refused(SW_SECURITY_STATUS)  # nothing is read, and no session opened, before the lock
        if not self._selected:
            raise Refused(SW_CONDITIONS)
        if cmd.ins == Ins.CREATE_FILE:
            return self._create_file(cmd)
        if cmd.ins == Ins.UPDATE_BINARY:
            return self._update_binary(cmd)
        return self._put_data(cmd)

    def _select(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.p1 == 0x04:
            if cmd.data != lds_files.EMRTD_AID:
                raise Refused(SW_NOT_FOUND)
            self._selected, self._current = True, None
            return ResponseAPDU(b"", SW_OK)
        if cmd.p1 not in (0x00, 0x02) or not self._selected:
            raise Refused(SW_WRONG_P1P2 if self._selected else SW_NOT_FOUND)
        if len(cmd.data) != 2:
            raise Refused(SW_WRONG_LENGTH)
        fid = int.from_bytes(cmd.data, "big")
        if fid not in self.files:
            raise Refused(SW_NOT_FOUND)
        self._current = fid
        return ResponseAPDU(b"", SW_OK)

    def _create_file(self, cmd: CommandAPDU) -> ResponseAPDU:
        if (cmd.p1, cmd.p2) != (0, 0):
            raise Refused(SW_WRONG_P1P2)
        if len(cmd.data) != 6 or cmd.data[:2] != bytes([TAG_CREATE_FILE, CREATE_FILE_LENGTH]):
            raise Refused(SW_WRONG_DATA)
        size, fid = int.from_bytes(cmd.data[2:4], "big"), int.from_bytes(cmd.data[4:6], "big")
        spec = lds_files.by_fid(fid)
        if spec is None or (spec == lds_files.EF_CARD_ACCESS and not self.target.master_file):
            raise Refused(SW_WRONG_DATA)
        if not 0 < size <= self.target.max_file_bytes:
            raise Refused(SW_NO_SPACE)
        if fid in self.files:
            raise Refused(SW_FILE_EXISTS)
        self.files[fid] = bytearray(size)
        return ResponseAPDU(b"", SW_OK)

    def _update_binary(self, cmd: CommandAPDU) -> ResponseAPDU:
        if self._current is None:
            raise Refused(SW_NO_CURRENT_EF)
        if cmd.p1 & 0x80:
            raise Refused(SW_WRONG_P1P2)  # no short file identifiers: the applet writes the selected EF
        offset = (cmd.p1 << 8) | cmd.p2
        content = self.files[self._current]
        if not cmd.data:
            raise Refused(SW_WRONG_LENGTH)
        if offset + len(cmd.data) > len(content):
            raise Refused(SW_WRONG_OFFSET)
        content[offset : offset + len(cmd.data)] = cmd.data
        return ResponseAPDU(b"", SW_OK)

    def _put_data(self, cmd: CommandAPDU) -> ResponseAPDU:
        parameters = p1p2(cmd.p1, cmd.p2)
        if parameters == LOCK_P1P2:
            return self._lock()
        if parameters == TAG_MRZ_SEED:
            self.mrz_seed = _mrz_seed(cmd.data)
        elif parameters == TAG_AA_MODULUS:
            self.modulus = _key_part(cmd.data, TAG_AA_MODULUS)
        elif parameters == TAG_AA_EXPONENT:
            self.exponent = _key_part(cmd.data, TAG_AA_EXPONENT)
        else:
            raise Refused(SW_WRONG_P1P2)
        return ResponseAPDU(b"", SW_OK)

    def _lock(self) -> ResponseAPDU:
        """Lock: needs the BAC seed, and both halves of the AA key or neither."""
        if self.mrz_seed is None or (self.modulus is None) != (self.exponent is None):
            raise Refused(SW_CONDITIONS)
        self.locked = True
        return ResponseAPDU(b"", SW_OK)

    def image(self) -> CardImage:
        """What the locked applet holds, as a card image a :class:`~cardlib.chip.chip.VirtualChip` serves.

        The AA key is rebuilt from the modulus, the private exponent and the public exponent of DG15 (the
        applet needs no more to sign; cryptography's key object does); when they do not belong together the
        image has no AA key and the chip's Active Authentication fails, as the real applet's would.
        """
        if not self.locked or self.mrz_seed is None:
            raise CardlibError("the applet is not locked: it serves no card yet")
        files = {spec.name: bytes(content) for fid, content in self.files.items()
                 if (spec := lds_files.by_fid(fid)) is not None}
        number, birth, expiry = self.mrz_seed
        number = number.ljust(DOCUMENT_NUMBER_LENGTH, "<")
        mrz_information = "".join(value + check_digit(value) for value in (number, birth, expiry))
        secrets = ChipSecrets(mrz_information, "", self._aa_key(files.get("DG15")), None)
        return CardImage(files, secrets, "jmrtd-applet")

    def _aa_key(self, dg15: bytes | None) -> rsa.RSAPrivateKey | None:
        if self.modulus is None or self.exponent is None or dg15 is None:
            return None
        n, d = int.from_bytes(self.modulus, "big"), int.from_bytes(self.exponent, "big")
        try:
            public = DG15.decode(dg15).public_key.cryptography_key()
            if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers().n != n:
                return None
            e = public.public_numbers().e
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
            numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                            rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n))
            return numbers.private_key()
        except (CardlibError, ValueError):
            return None


def _mrz_seed(data: bytes) -> tuple[str, str, str]:
    """The document number, birth and expiry dates of ``62 L 04 .. 04 .. 04 ..``; 6A80 when malformed."""
    try:
        outer = read_tlv(data, file="PUT DATA 62")
        parts = list(iter_tlvs(outer.value, file="PUT DATA 62"))
    except DecodeError:
        raise Refused(SW_WRONG_DATA) from None
    if outer.tag != TAG_MRZ_SEED or outer.end != len(data) or len(parts) != 3 \
            or any(part.tag != TAG_OCTET_STRING for part in parts):
        raise Refused(SW_WRONG_DATA)
    try:
        number, birth, expiry = (part.value.decode("ascii") for part in parts)
    except UnicodeDecodeError:
        raise Refused(SW_WRONG_DATA) from None
    if not 0 < len(number) <= DOCUMENT_NUMBER_LENGTH or not all(
            len(date) == DATE_LENGTH and date.isdigit() for date in (birth, expiry)):
        raise Refused(SW_WRONG_DATA)
    return number, birth, expiry


def _key_part(data: bytes, tag: int) -> bytes:
    """The octet string of ``<tag> 00 04 L value`` (the outer length is not read, as on the applet)."""
    if len(data) < 4 or data[0] != tag:
        raise Refused(SW_WRONG_DATA)
    try:
        inner = read_tlv(data[2:], file="PUT DATA key")
    except DecodeError:
        raise Refused(SW_WRONG_DATA) from None
    if inner.tag != TAG_OCTET_STRING or inner.end != len(data) - 2 or not inner.value:
        raise Refused(SW_WRONG_DATA)
    return inner.value
