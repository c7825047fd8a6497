"""A virtual CCCD chip: runs a :class:`~cardlib.card.image.CardImage` as an ICAO 9303 eMRTD application.

:class:`VirtualChip` answers ISO/IEC 7816-4 command APDUs the way a real chip does: file selection and
READ BINARY (short, SFI, odd INS, extended length), BAC, PACE, Active and Chip Authentication, secure
messaging, access conditions and realistic status words.  MSE and GENERAL AUTHENTICATE serve two
protocols: outside a session they run PACE (MSE:Set AT ``C1A4``); inside a BAC/PACE session, Chip
Authentication (MSE:Set AT ``41A4`` + GENERAL AUTHENTICATE for AES, MSE:Set KAT ``41A6`` for 3DES).
After Chip Authentication a chip whose image trusts a CVCA (:attr:`ChipSecrets.trusted_cvca`) runs Terminal
Authentication (:class:`~cardlib.protocols.ta.TAChip`: MSE:Set DST ``81B6``, PSO:VERIFY CERTIFICATE, MSE:Set AT
``81A4``, GET CHALLENGE, EXTERNAL AUTHENTICATE) and releases DG3/DG4 only to a terminal granted the right; it
serves EF.CVCA naming its trusted CVCA keys, and keeps its current date (moved on by the certificates it
verified) from one session to the next.
It is the chip side of the in-process transport and of the vpcd reader (:mod:`cardlib.chip.vpcd`).
Whatever bytes arrive, :meth:`process` answers with a response APDU ending in a status word; it never raises.
:class:`BlankAppletChip` is the blank-applet mode: a JMRTD passport applet waiting to be personalized
(:mod:`cardlib.chip.applet`), which becomes a BAC-only :class:`VirtualChip` of what was written once locked.

:class:`ChipOptions` switches on the behaviours of chips met in the field (the catalogue of
``tests/test_field_chips.py``), each independent of the others so that they combine: an unreachable
EF.CardAccess, no short file identifiers, SELECT without P2=0C, extended length refused by the runtime in
plain, response caps, odd end-of-file answers, T=0-style 61xx/6Cxx, slow answers, plain error status words
inside a session, Active Authentication variants, MSE:Set AT with or without DO84, internal errors.
Runtime behaviours (61xx, 6Cxx, extended length refused in plain, latency) sit in :meth:`VirtualChip.process`,
outside secure messaging, as on a Java Card whose runtime answers before the applet sees the command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cardlib.card.image import AAPrivateKey, CardImage, ChipSecrets
from cardlib.card.targets import JMRTD_APPLET, ChipTarget
from cardlib.chip.applet import PERSONALIZATION_INS, BlankApplet
from cardlib.chip.filesystem import MF_FID, ChipFile, FileSystem, application_fcp
from cardlib.errors import CardlibError, DecodeError, ProtocolError
from cardlib.lds import files as lds_files
from cardlib.lds.com import TAG_TAG_LIST
from cardlib.lds.securityinfo import DG14, CardAccess, SecurityInfos
from cardlib.lds.tlv import TLV, encode_length, encode_tlv, find, iter_tlvs, read_tlv
from cardlib.pki.cvc import TrustPoint
from cardlib.protocols.aa import aa_sign
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.bac import BACChip
from cardlib.protocols.ca import CAChip
from cardlib.protocols.pace import PACEChip, PACEParameters
from cardlib.protocols.sm import MAC_DO_LENGTH, SecureMessaging
from cardlib.protocols.status import (
    SW_AUTH_FAILED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS,
    SW_END_OF_FILE,
    SW_INS_NOT_SUPPORTED,
    SW_NO_CURRENT_EF,
    SW_NOT_FOUND,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_SECURITY_STATUS,
    SW_SM_MISSING,
    SW_SM_WRONG,
    SW_UNKNOWN,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
)
from cardlib.protocols.ta import TAChip, encode_ef_cvca, id_picc_after_bac, id_picc_after_pace

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MANAGE_SECURITY_ENVIRONMENT = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_GET_RESPONSE = 0xC0
INS_PERFORM_SECURITY_OPERATION = 0x2A
SW1_MORE_DATA = 0x61
SW1_EXACT_LENGTH = 0x6C
MSE_SET_AT_PACE = (0xC1, 0xA4)
MSE_SET_AT_CA = (0x41, 0xA4)
MSE_SET_KAT_CA = (0x41, 0xA6)
MSE_SET_DST_TA = (0x81, 0xB6)
MSE_SET_AT_TA = (0x81, 0xA4)
EAC_DATA_GROUPS = (3, 4)  # released only after Terminal Authentication granting their read right
MAX_EF_CVCA_KEYS = 2
# id-CA-ECDH-3DES-CBC-CBC: the protocol implied when neither DG14 nor EF.CardAccess has a ChipAuthenticationInfo
# (EAC 1.11 chips); the reader assumes the same.
CA_ECDH_3DES = "0.4.0.127.0.7.2.2.3.2.1"
PASSWORD_MRZ = b"\x01"
PASSWORD_CAN = b"\x02"
TAG_DYNAMIC_AUTHENTICATION = 0x7C
TAG_MECHANISM = 0x80
TAG_PASSWORD = 0x83
TAG_PARAMETER_ID = 0x84

TAG_OFFSET = 0x54
TAG_DISCRETIONARY = 0x53
CLA_ALLOWED_BITS = 0x1C  # command chaining (10) and secure messaging indication (0C)
SM_CLA = 0x0C
CHALLENGE_LENGTH = 8
BAC_DATA_LENGTH = 40
MAX_SHORT_OFFSET = 0x7FFF
GET_UID_HEADER = bytes.fromhex("FFCA0000")
UID_LENGTH = 7
_MRZ_INFORMATION_TAIL = 15  # after the document number: its check digit, birth date and expiry with theirs


def _atr(historical: bytes) -> bytes:
    """A PC/SC contactless ATR (PC/SC Part 3 §3.1.3.2.3): 3B 8n 80 01, historical bytes, TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


DEFAULT_ATR = _atr(b"\x80\x31\x80\x65\xb0\x85\x04\x01")


PastEnd = Literal["6282", "9000", "6B00", "6700", "6Cxx"]
DO84Rule = Literal["optional", "required", "refused"]


@dataclass(frozen=True)
class ChipOptions:
    """How the virtual chip behaves, so that readers' fallbacks can be exercised; every switch combines.

    ``max_le`` is the largest Ne the chip honours; a bigger Le gets 6700, or, with ``truncate_le``, at
    most ``max_le`` bytes.  ``extended_length=False`` answers any extended-length APDU with ``extended_sw``:
    from the applet (``extended_refusal="applet"``, protected inside a session) or from the runtime
    (``"runtime"``: in plain, before secure messaging, which then counts nothing).
    ``pace=False`` makes a BAC-only chip (no EF.CardAccess); ``bac=False`` a PACE-only chip (6A88).
    ``oversized`` makes a hostile chip: each (file name, length) pair replaces that file by one whose outer
    TLV header declares a value of ``length`` bytes, the genuine value followed by zero filler (with
    ``max_le=16, truncate_le=True`` it keeps a reader without budgets busy for hours).

    Field behaviours: ``card_access_sw`` answers SELECT and READ BINARY of EF.CardAccess (an applet-only
    chip); ``select_mf_sw`` SELECT MF; ``sfi_sw`` every READ BINARY by short file identifier;
    ``select_p2_0c_sw`` every SELECT asking for no answer data (P2 0C; 00 and 04 still work).
    ``past_end`` is the answer to a READ BINARY (B0) whose Le reaches past the end of the file: the data and
    6282 (ISO 7816-4), the data and 9000 (fewer bytes, no warning), or no data and 6B00, 6700, 6Cxx.
    ``chaining`` cuts answers longer than that many bytes into 61xx pieces fetched with GET RESPONSE;
    ``exact_le`` answers a short Le larger than the answer with 6Cxx and gives it on the resend (T=0).
    ``latency`` seconds pass before each answer.  ``plain_errors`` answers error status words inside a
    session in plain, keeping the session, the SSC advanced by that many steps (1: the command counted,
    2: the unsent response too).  ``aa_short_le_only`` refuses INTERNAL AUTHENTICATE with an Le above 256
    (6700); ``aa_hash`` is the Active Authentication hash, ``aa_ecdsa_der`` sends ECDSA signatures in DER.
    ``mse_do84`` says whether MSE:Set AT of PACE may, must or must not carry the parameter ID (DO84).
    ``internal_errors`` pairs an INS with the status word (6Fxx, 6Axx) every such command outside a session
    (access control: BAC, PACE) gets.  ``mac_only_9000`` protects answers as vsmartcard's ePass emulator
    does: never a DO99, a DO8E MAC only on 9000; any other answer carries its data (6282) in a DO87 with no
    MAC, the chip counting the command only.  ``bac_wrong_key_sw`` answers a MUTUAL AUTHENTICATE whose
    cryptogram does not verify (a wrong MRZ; the ePass emulator answers 6988).  ``malformed_com`` writes
    EF.COM's tag list as the ePass emulator does: the tags as hex text in a DO5C declaring one byte per tag,
    so the file does not decode.  ``empty_files`` names files the chip holds with no content (0 bytes).
    """

    extended_length: bool = True
    extended_refusal: Literal["applet", "runtime"] = "applet"
    extended_sw: int = SW_WRONG_LENGTH
    max_le: int = 65536
    truncate_le: bool = False
    pace: bool = True
    bac: bool = True
    atr: bytes = DEFAULT_ATR
    oversized: tuple[tuple[str, int], ...] = ()
    card_access_sw: int | None = None
    select_mf_sw: int | None = None
    sfi_sw: int | None = None
    select_p2_0c_sw: int | None = None
    past_end: PastEnd = "6282"
    chaining: int | None = None
    exact_le: bool = False
    latency: float = 0.0
    plain_errors: int | None = None
    aa_short_le_only: bool = False
    aa_hash: str = "sha256"
    aa_ecdsa_der: bool = False
    mse_do84: DO84Rule = "optional"
    internal_errors: tuple[tuple[int, int], ...] = ()
    mac_only_9000: bool = False
    bac_wrong_key_sw: int = SW_AUTH_FAILED
    malformed_com: bool = False
    empty_files: tuple[str, ...] = ()


JMRTD_APPLET_OPTIONS = ChipOptions(card_access_sw=SW_NO_CURRENT_EF, sfi_sw=SW_CONDITIONS, extended_length=False,
                                   extended_refusal="runtime", pace=False, aa_hash=JMRTD_APPLET.aa_hash)
"""How a locked JMRTD applet answers: the three behaviours measured on it (issue 11: EF.CardAccess 6986, READ
BINARY by short file identifier 6985, extended length refused by the Java Card runtime), BAC only, and Active
Authentication with ISO 9796-2 over SHA-1."""


class _Status(Exception):
    """Internal: stop handling the command and answer with this status word."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class VirtualChip:
    """An eMRTD chip holding one card image; feed it command APDUs with :meth:`process`."""

    def __init__(self, image: CardImage, options: ChipOptions | None = None) -> None:
        if image.secrets is None:
            raise CardlibError("a virtual chip needs a card image with secrets, not a dump")
        self.options = options or ChipOptions()
        files = {name: data for name, data in image.files.items()
                 if self.options.pace or name != lds_files.EF_CARD_ACCESS.name}
        files.update({name: _oversized(files[name], length) for name, length in self.options.oversized})
        if self.options.malformed_com:
            files[lds_files.EF_COM.name] = _malformed_com(files[lds_files.EF_COM.name])
        files.update(dict.fromkeys(self.options.empty_files, b""))
        self._secrets: ChipSecrets = image.secrets
        cvcas = self._secrets.trusted_cvca
        self._eac_trust = [TrustPoint.of(certificate) for certificate in cvcas]
        self._eac_date = self._secrets.eac_date or max((c.body.effective for c in cvcas), default=date.min)
        if cvcas and lds_files.EF_CVCA.name not in files:
            files[lds_files.EF_CVCA.name] = encode_ef_cvca([c.chr for c in cvcas][-MAX_EF_CVCA_KEYS:])
        self._fs = FileSystem(files)
        self._handlers: dict[int, Callable[[CommandAPDU], ResponseAPDU]] = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_READ_BINARY_ODD: self._read_binary,
            INS_GET_CHALLENGE: self._get_challenge,
            INS_EXTERNAL_AUTHENTICATE: self._external_authenticate,
            INS_MANAGE_SECURITY_ENVIRONMENT: self._manage_security_environment,
            INS_GENERAL_AUTHENTICATE: self._general_authenticate,
            INS_PERFORM_SECURITY_OPERATION: self._terminal_authentication,
        }
        aa_key = self._secrets.aa_private_key
        if aa_key is not None:
            self._handlers[INS_INTERNAL_AUTHENTICATE] = lambda cmd: self._internal_authenticate(aa_key, cmd)
        self._pace_parameters = _pace_parameters(self._fs.content(lds_files.EF_CARD_ACCESS.name))
        self._new_ca_chip = _ca_chip_factory(files, self._secrets)
        self._reset_state()

    def __repr__(self) -> str:
        return f"VirtualChip(files={len(self._fs)}, options={self.options!r})"

    @property
    def atr(self) -> bytes:
        """The answer to reset the chip gives when powered on."""
        return self.options.atr

    @property
    def eac_current_date(self) -> date:
        """The chip's current date for Terminal Authentication: personalization's, moved on by the CVCA, DV and
        domestic terminal certificates it verified since."""
        return self._eac_date

    @property
    def eac_trust_points(self) -> tuple[TrustPoint, ...]:
        """The CVCA keys the chip trusts (those of its image, and any a link certificate added)."""
        return tuple(self._eac_trust)

    @property
    def secure_messaging_active(self) -> bool:
        """True while secure messaging protects the channel (keys from BAC or PACE, then Chip Authentication)."""
        return self._sm is not None

    def power_on(self) -> bytes:
        """Power the chip up: sessions and selections are dropped; returns the ATR."""
        self._reset_state()
        return self.atr

    def reset(self) -> None:
        """Warm reset: sessions and selections are dropped."""
        self._reset_state()

    def _reset_state(self) -> None:
        self._in_application = False
        self._current: ChipFile | None = None
        self._held: tuple[CommandAPDU, ResponseAPDU] | None = None
        self._pending = b""
        self._close_session()

    def _close_session(self) -> None:
        self._sm: SecureMessaging | None = None
        self._next_sm: SecureMessaging | None = None
        self._bac: BACChip | None = None
        self._pace: PACEChip | None = None
        self._ca: CAChip | None = None
        self._ta: TAChip | None = None
        self._id_picc = b""  # the chip's identifier for Terminal Authentication, set by BAC/PACE

    # -- APDU processing ------------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU with response data and a status word; never raises.

        Hostile bytes get a status word: an unparseable APDU 6700, anything unforeseen 6F00 (and the
        session is closed, as a chip does after an internal error).
        """
        if self.options.latency:
            time.sleep(self.options.latency)
        try:
            return self._runtime(bytes(raw)).encode()
        except Exception:  # the last line of defence: a reader must always get a status word
            self._close_session()
            return SW_UNKNOWN.to_bytes(2, "big")

    def _runtime(self, raw: bytes) -> ResponseAPDU:
        """What the card's runtime does around the applet: GET RESPONSE, 6Cxx resends, plain refusals."""
        held, self._held = self._held, None
        pending, self._pending = self._pending, b""
        try:
            cmd = CommandAPDU.parse(raw)
        except CardlibError:
            return ResponseAPDU(b"", SW_WRONG_LENGTH)
        if cmd.ins == INS_GET_RESPONSE and pending:
            return self._chained(pending, cmd.le or 256)
        if held is not None and (cmd.header, cmd.data, cmd.le) == (held[0].header, held[0].data, len(held[1].data)):
            return self._chained(held[1].encode(), cmd.le)
        if cmd.extended and not self.options.extended_length and self.options.extended_refusal == "runtime":
            return ResponseAPDU(b"", self.options.extended_sw)
        response = self._process(raw)
        if self.options.exact_le and not cmd.extended and response.data and cmd.le is not None \
                and len(response.data) < cmd.le:
            self._held = (cmd, response)
            return ResponseAPDU(b"", (SW1_EXACT_LENGTH << 8) | len(response.data))
        return self._chained(response.encode(), None)

    def _chained(self, answer: bytes, le: int | None) -> ResponseAPDU:
        """``answer`` (data + SW), cut into 61xx pieces when longer than ``chaining`` (or than ``le``)."""
        piece = min(self.options.chaining or len(answer), le or len(answer))
        if len(answer) - 2 <= piece:
            return ResponseAPDU.parse(answer)
        self._pending = answer[piece:]
        return ResponseAPDU(answer[:piece], (SW1_MORE_DATA << 8) | min(len(self._pending) - 2, 256) % 256)

    def _process(self, raw: bytes) -> ResponseAPDU:
        try:
            cmd = CommandAPDU.parse(raw)
        except CardlibError:
            return ResponseAPDU(b"", SW_WRONG_LENGTH)
        if cmd.cla & ~CLA_ALLOWED_BITS & 0xFF:
            return ResponseAPDU(b"", SW_CLA_NOT_SUPPORTED)
        if self._sm is not None:
            return self._process_protected(cmd, self._sm)
        if cmd.cla & SM_CLA:
            return ResponseAPDU(b"", SW_SM_WRONG)
        return self._dispatch(cmd)

    def _process_protected(self, cmd: CommandAPDU, sm: SecureMessaging) -> ResponseAPDU:
        """Unwrap, execute and wrap one command of an SM session; SM errors end the session in plain.

        After a successful Chip Authentication the answer is still wrapped with the old keys; the chip
        switches to the new session (SSC 0) only then, for the next command (ICAO 9303-11 §6.2).
        """
        if cmd.cla & SM_CLA != SM_CLA:
            self._close_session()
            return ResponseAPDU(b"", SW_SM_MISSING)
        try:
            plain = sm.unprotect_command(cmd)
        except CardlibError:
            self._close_session()
            return ResponseAPDU(b"", SW_SM_WRONG)
        response = self._dispatch(plain)
        next_sm, self._next_sm = self._next_sm, None
        if not cmd.extended and len(response.data) > sm.max_plain_read and self.options.chaining is None:
            response = ResponseAPDU(b"", SW_WRONG_LENGTH)  # the protected answer would not fit 256 bytes
        if self._sm is not sm:
            return response
        if self.options.plain_errors is not None and _is_error(response):
            sm.advance(self.options.plain_errors - 1)
            return response
        protected = sm.protect_response(response, status=not self.options.mac_only_9000)
        if self.options.mac_only_9000 and not response.ok:
            sm.advance(-1)  # the response is not counted
            return ResponseAPDU(protected.data[:-MAC_DO_LENGTH], response.sw)
        if next_sm is not None and response.ok:
            self._sm = next_sm
            self._ta = self._new_ta_chip()
        return protected

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        handler = self._handlers.get(cmd.ins)
        if handler is None:
            return ResponseAPDU(b"", SW_INS_NOT_SUPPORTED)
        if cmd.extended and not self.options.extended_length:
            return ResponseAPDU(b"", self.options.extended_sw)
        internal_error = dict(self.options.internal_errors).get(cmd.ins)
        if internal_error is not None and self._sm is None:
            return ResponseAPDU(b"", internal_error)
        try:
            return handler(cmd)
        except _Status as status:
            return ResponseAPDU(b"", status.sw)

    # -- SELECT ---------------------------------------------------------------------------------------

    def _select(self, cmd: CommandAPDU) -> ResponseAPDU:
        """SELECT by DF name (P1 04) or file identifier (P1 00/02); P2 0C: no answer data, 00/04: FCP."""
        if cmd.p2 not in (0x00, 0x04, 0x0C):
            raise _Status(SW_WRONG_P1P2)
        if cmd.p2 == 0x0C and self.options.select_p2_0c_sw is not None:
            raise _Status(self.options.select_p2_0c_sw)
        if cmd.p1 == 0x04:
            return self._select_application(cmd)
        if cmd.p1 == 0x00 and cmd.data in (b"", MF_FID.to_bytes(2, "big")):
            if self.options.select_mf_sw is not None:
                raise _Status(self.options.select_mf_sw)
            self._in_application, self._current = False, None
            return ResponseAPDU(b"", SW_OK)
        if cmd.p1 not in (0x00, 0x02):
            raise _Status(SW_WRONG_P1P2)
        if len(cmd.data) != 2:
            raise _Status(SW_WRONG_LENGTH)
        fid = int.from_bytes(cmd.data, "big")
        self._check_card_access(fid == lds_files.EF_CARD_ACCESS.fid)
        file = self._fs.by_fid(fid, in_application=self._in_application)
        if file is None:
            raise _Status(SW_NOT_FOUND)
        self._check_access(file)
        self._current = file
        return ResponseAPDU(b"" if cmd.p2 == 0x0C else file.fcp(), SW_OK)

    def _select_application(self, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.data != lds_files.EMRTD_AID:
            raise _Status(SW_NOT_FOUND)
        self._in_application, self._current = True, None
        return ResponseAPDU(b"" if cmd.p2 == 0x0C else application_fcp(cmd.data), SW_OK)

    def _check_card_access(self, card_access: bool) -> None:
        """An applet-only chip answers ``card_access_sw`` to anything naming EF.CardAccess."""
        if card_access and self.options.card_access_sw is not None:
            raise _Status(self.options.card_access_sw)

    def _check_sfi(self) -> None:
        if self.options.sfi_sw is not None:
            raise _Status(self.options.sfi_sw)

    def _check_access(self, file: ChipFile) -> None:
        """Only EF.CardAccess is open before BAC/PACE (ICAO 9303-11 §4.2); EF.CardSecurity too needs a session."""
        if file.spec != lds_files.EF_CARD_ACCESS and self._sm is None:
            raise _Status(SW_SECURITY_STATUS)

    # -- READ BINARY ----------------------------------------------------------------------------------

    def _read_binary(self, cmd: CommandAPDU) -> ResponseAPDU:
        """READ BINARY B0 (15-bit offset, or SFI in P1 with 8-bit offset) and B1 (offset in DO54)."""
        file, offset = self._read_target(cmd) if cmd.ins == INS_READ_BINARY else self._odd_read_target(cmd)
        self._check_access(file)
        number = file.spec.dg_number
        if number in EAC_DATA_GROUPS and (self._ta is None or not self._ta.may_read(number)):
            raise _Status(SW_SECURITY_STATUS)  # DG3/DG4 need Terminal Authentication granting their right
        wanted = self._expected_length(cmd)
        if offset >= len(file.content):
            raise _Status(SW_WRONG_OFFSET)
        if cmd.ins == INS_READ_BINARY_ODD:
            return self._odd_read_response(file.content, offset, wanted)
        chunk = file.content[offset : offset + wanted]
        if len(chunk) == wanted:
            return ResponseAPDU(chunk, SW_OK)
        return self._past_end(chunk)

    def _past_end(self, chunk: bytes) -> ResponseAPDU:
        """The answer to a READ BINARY reaching past the end of the file, as ``past_end`` says."""
        rule = self.options.past_end
        if rule == "6Cxx":
            return ResponseAPDU(b"", (SW1_EXACT_LENGTH << 8) | len(chunk) % 256)
        if rule in ("6B00", "6700"):
            return ResponseAPDU(b"", int(rule, 16))
        return ResponseAPDU(chunk, int(rule, 16))

    def _read_target(self, cmd: CommandAPDU) -> tuple[ChipFile, int]:
        if cmd.data:
            raise _Status(SW_WRONG_LENGTH)
        if not cmd.p1 & 0x80:
            return self._current_file(), (cmd.p1 << 8) | cmd.p2
        if cmd.p1 & 0x60:
            raise _Status(SW_WRONG_P1P2)
        self._check_card_access(cmd.p1 & 0x1F == lds_files.EF_CARD_ACCESS.sfi)
        self._check_sfi()
        file = self._fs.by_sfi(cmd.p1 & 0x1F, in_application=self._in_application)
        if file is None:
            raise _Status(SW_NOT_FOUND)
        self._check_access(file)
        self._current = file
        return file, cmd.p2

    def _odd_read_target(self, cmd: CommandAPDU) -> tuple[ChipFile, int]:
        """B1: P1-P2 0000 is the current EF, 00 + SFI a short identifier, else a file identifier."""
        fid = (cmd.p1 << 8) | cmd.p2
        if fid == 0:
            file = self._current_file()
        else:
            self._check_card_access(fid in (lds_files.EF_CARD_ACCESS.fid, lds_files.EF_CARD_ACCESS.sfi))
            if fid <= 0x1E:
                self._check_sfi()
            found = (self._fs.by_sfi(cmd.p2, in_application=self._in_application) if fid <= 0x1E
                     else self._fs.by_fid(fid, in_application=self._in_application))
            if found is None:
                raise _Status(SW_NOT_FOUND)
            file = found
        try:
            obj = read_tlv(cmd.data, file="READ BINARY")
        except DecodeError:
            raise _Status(SW_WRONG_DATA) from None
        if obj.tag != TAG_OFFSET or obj.end != len(cmd.data) or not 1 <= len(obj.value) <= 3:
            raise _Status(SW_WRONG_DATA)
        self._current = file
        return file, int.from_bytes(obj.value, "big")

    def _odd_read_response(self, content: bytes, offset: int, wanted: int) -> ResponseAPDU:
        """Answer data wrapped in DO53; Ne counts the wrapper, so the data is a few bytes shorter."""
        header = len(encode_tlv(TAG_DISCRETIONARY, bytes(wanted))) - wanted
        if wanted <= header:
            raise _Status(SW_WRONG_LENGTH)
        room = wanted - header
        chunk = content[offset : offset + room]
        return ResponseAPDU(encode_tlv(TAG_DISCRETIONARY, chunk), SW_OK if len(chunk) == room else SW_END_OF_FILE)

    def _current_file(self) -> ChipFile:
        if self._current is None:
            raise _Status(SW_NO_CURRENT_EF)
        return self._current

    def _expected_length(self, cmd: CommandAPDU) -> int:
        if cmd.le is None:
            raise _Status(SW_WRONG_LENGTH)
        if cmd.le <= self.options.max_le:
            return cmd.le
        if self.options.truncate_le:
            return self.options.max_le
        raise _Status(SW_WRONG_LENGTH)

    # -- BAC ------------------------------------------------------------------------------------------

    def _get_challenge(self, cmd: CommandAPDU) -> ResponseAPDU:
        """GET CHALLENGE: RND.IC for BAC (outside a session) or a nonce for the terminal."""
        if cmd.p1 or cmd.p2:
            raise _Status(SW_WRONG_P1P2)
        if cmd.le != CHALLENGE_LENGTH or cmd.data:
            raise _Status(SW_WRONG_LENGTH)
        if self._sm is not None and self._ta is not None:
            return self._terminal_authentication(cmd)
        if self._sm is not None or not self.options.bac:
            return ResponseAPDU(os.urandom(CHALLENGE_LENGTH), SW_OK)
        self._bac = BACChip(self._secrets.mrz_information)
        return ResponseAPDU(self._bac.challenge(), SW_OK)

    def _external_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        """EXTERNAL/MUTUAL AUTHENTICATE of BAC (ICAO 9303-11 §4.3): 6300 when the MRZ keys are wrong; inside a
        session, the last step of Terminal Authentication."""
        if self._sm is not None:
            return self._terminal_authentication(cmd)
        if not self.options.bac:
            raise _Status(SW_REFERENCE_NOT_FOUND)
        if cmd.p1 or cmd.p2:
            raise _Status(SW_WRONG_P1P2)
        bac, self._bac = self._bac, None
        if bac is None or self._sm is not None:
            raise _Status(SW_CONDITIONS)
        if len(cmd.data) != BAC_DATA_LENGTH:
            raise _Status(SW_WRONG_LENGTH)
        try:
            response, session = bac.mutual_authenticate(cmd.data)
        except ProtocolError:
            raise _Status(self.options.bac_wrong_key_sw) from None
        self._sm = session
        self._id_picc = id_picc_after_bac(self._secrets.mrz_information[:-_MRZ_INFORMATION_TAIL])
        return ResponseAPDU(response, SW_OK)

    # -- Active Authentication ----------------------------------------------------------------------

    def _internal_authenticate(self, key: AAPrivateKey, cmd: CommandAPDU) -> ResponseAPDU:
        """INTERNAL AUTHENTICATE (ICAO 9303-11 §6.1): sign the terminal's 8-byte challenge, after BAC/PACE."""
        if self._sm is None:
            raise _Status(SW_SECURITY_STATUS)
        if cmd.p1 or cmd.p2:
            raise _Status(SW_WRONG_P1P2)
        if len(cmd.data) != CHALLENGE_LENGTH or cmd.le is None:
            raise _Status(SW_WRONG_LENGTH)
        if self.options.aa_short_le_only and cmd.le > 256:
            raise _Status(SW_WRONG_LENGTH)
        signature = aa_sign(key, cmd.data, hash_name=self.options.aa_hash)
        if self.options.aa_ecdsa_der and isinstance(key, ec.EllipticCurvePrivateKey):
            half = len(signature) // 2
            signature = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                             int.from_bytes(signature[half:], "big"))
        if len(signature) > self._expected_length(cmd):
            raise _Status(SW_WRONG_LENGTH)
        return ResponseAPDU(signature, SW_OK)

    # -- PACE -----------------------------------------------------------------------------------------

    def _manage_security_environment(self, cmd: CommandAPDU) -> ResponseAPDU:
        """MSE:Set AT for PACE (P1P2 C1A4), or Set AT/Set KAT for Chip Authentication (41A4/41A6)."""
        if (cmd.p1, cmd.p2) in (MSE_SET_AT_CA, MSE_SET_KAT_CA):
            return self._chip_authentication(cmd)
        if (cmd.p1, cmd.p2) in (MSE_SET_DST_TA, MSE_SET_AT_TA):
            return self._terminal_authentication(cmd)
        if (cmd.p1, cmd.p2) != MSE_SET_AT_PACE:
            raise _Status(SW_WRONG_P1P2)
        return self._pace_set_at(cmd)

    def _pace_set_at(self, cmd: CommandAPDU) -> ResponseAPDU:
        """MSE:Set AT for PACE: choose the password (MRZ or CAN) and the PACEInfo; only outside a session."""
        if self._sm is not None:
            raise _Status(SW_CONDITIONS)
        self._pace = None
        try:
            objects = list(iter_tlvs(cmd.data, file="MSE:Set AT"))
        except DecodeError:
            raise _Status(SW_WRONG_DATA) from None
        password = find(objects, TAG_PASSWORD)
        if password is None or password.value not in (PASSWORD_MRZ, PASSWORD_CAN):
            raise _Status(SW_REFERENCE_NOT_FOUND if password is not None else SW_WRONG_DATA)
        params = self._chosen_pace_parameters(objects)
        mrz = password.value == PASSWORD_MRZ
        secret = self._secrets.mrz_information if mrz else self._secrets.can
        chip_key = self._secrets.ca_private_key if params.mapping == "CAM" else None
        try:
            chip = PACEChip(secret, "MRZ" if mrz else "CAN", params, chip_key=chip_key)
        except ProtocolError:  # PACE-CAM offered without a Chip Authentication key on its curve
            raise _Status(SW_REFERENCE_NOT_FOUND) from None
        try:
            chip.set_at(cmd.data)
        except ProtocolError:
            raise _Status(SW_WRONG_DATA) from None
        self._pace = chip
        return ResponseAPDU(b"", SW_OK)

    def _chosen_pace_parameters(self, objects: list[TLV]) -> PACEParameters:
        """The PACEInfo of EF.CardAccess named by DO80 (protocol) and, if present, DO84 (parameter ID)."""
        mechanism = find(objects, TAG_MECHANISM)
        parameter = find(objects, TAG_PARAMETER_ID)
        rule = self.options.mse_do84
        if (parameter is None and rule == "required") or (parameter is not None and rule == "refused"):
            raise _Status(SW_WRONG_DATA)
        for params in self._pace_parameters:
            if mechanism is not None and params.oid_bytes == mechanism.value and (
                    parameter is None or parameter.value == bytes([params.parameter_id])):
                return params
        raise _Status(SW_WRONG_DATA)

    def _general_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        """GENERAL AUTHENTICATE: inside a BAC/PACE session the key exchange of Chip Authentication,
        outside one the next step of PACE."""
        if cmd.p1 or cmd.p2:
            raise _Status(SW_WRONG_P1P2)
        if self._sm is not None:
            return self._chip_authentication(cmd)
        return self._pace_step(cmd)

    def _pace_step(self, cmd: CommandAPDU) -> ResponseAPDU:
        """One step of PACE; a failed step (wrong CAN/MRZ shows at the token check) answers 6300."""
        pace = self._pace
        if pace is None:
            raise _Status(SW_CONDITIONS)
        if cmd.data[:1] != bytes([TAG_DYNAMIC_AUTHENTICATION]):
            self._pace = None
            raise _Status(SW_WRONG_DATA)
        try:
            response = pace.general_authenticate(cmd.data)
        except CardlibError:
            self._pace = None
            raise _Status(SW_AUTH_FAILED) from None
        if pace.secure_messaging is not None:
            self._sm, self._pace = pace.secure_messaging, None
            self._id_picc = id_picc_after_pace(pace.ephemeral_public_key)
        return ResponseAPDU(response, SW_OK)

    # -- Chip Authentication --------------------------------------------------------------------------

    def _chip_authentication(self, cmd: CommandAPDU) -> ResponseAPDU:
        """MSE:Set KAT, MSE:Set AT or GENERAL AUTHENTICATE of Chip Authentication, inside a BAC/PACE session.

        Before BAC/PACE the chip answers 6982.  A chip without a CA key answers MSE with 6A88 (referenced
        data not found: the instruction exists, as PACE uses it, but there is no key to reference) and a
        GENERAL AUTHENTICATE in a session with 6985 (no security environment set).  The new session agreed
        here is kept aside until the answer has gone out under the current keys.
        """
        if self._sm is None:
            raise _Status(SW_SECURITY_STATUS)
        if self._ca is None:
            if self._new_ca_chip is None:
                raise _Status(SW_CONDITIONS if cmd.ins == INS_GENERAL_AUTHENTICATE else SW_REFERENCE_NOT_FOUND)
            self._ca = self._new_ca_chip()
        response, session = self._ca.handle(cmd)
        self._next_sm = session
        return response


    # -- Terminal Authentication ----------------------------------------------------------------------

    def _new_ta_chip(self) -> TAChip | None:
        """Terminal Authentication's state once Chip Authentication switched the keys; None without a CVCA."""
        if not self._eac_trust or self._ca is None:
            return None
        return TAChip(self._eac_trust, self._eac_date, id_picc=self._id_picc,
                      ephemeral_public_key=self._ca.terminal_public_key)

    def _terminal_authentication(self, cmd: CommandAPDU) -> ResponseAPDU:
        """A Terminal Authentication command: 6982 outside a session, 6985 before Chip Authentication (or on a
        chip trusting no CVCA); what the chip learnt of the date and CVCA keys outlives the session."""
        if self._sm is None:
            raise _Status(SW_SECURITY_STATUS)
        if self._ta is None:
            raise _Status(SW_CONDITIONS)
        response = self._ta.handle(cmd)
        self._eac_trust, self._eac_date = list(self._ta.trust_points), self._ta.current_date
        return response


class BlankAppletChip:
    """The virtual chip's blank-applet mode: a JMRTD passport applet as installed on a fresh Java Card.

    Until ``PUT DATA DE AD`` it runs the personalization state machine of :mod:`cardlib.chip.applet`
    (perso commands allowed, nothing readable); from the lock on, a :class:`VirtualChip` serves what was
    written with the target's access rules (BAC only, no EF.CardAccess, the target's AA hash), and every
    personalization command answers 6982.  It also answers the PC/SC reader's GET DATA for the card's UID
    (``FF CA 00 00 00``, PC/SC part 3), which a contactless reader answers itself and vpcd passes on.
    ``options`` is how the locked chip answers (default: :data:`JMRTD_APPLET_OPTIONS` for the JMRTD applet).
    """

    def __init__(self, target: ChipTarget = JMRTD_APPLET, *, uid: bytes | None = None,
                 options: ChipOptions | None = None) -> None:
        self.target = target
        self.uid = uid if uid is not None else os.urandom(UID_LENGTH)
        default = JMRTD_APPLET_OPTIONS if target == JMRTD_APPLET else ChipOptions(pace=target.pace,
                                                                                  aa_hash=target.aa_hash)
        self.options = options or default
        self.applet = BlankApplet(target)
        self._chip: VirtualChip | None = None

    def __repr__(self) -> str:
        return f"BlankAppletChip({self.target.name}, locked={self.applet.locked})"

    @property
    def atr(self) -> bytes:
        """The answer to reset (the Java Card's, whatever the applet holds)."""
        return self.options.atr

    @property
    def chip(self) -> VirtualChip | None:
        """The eMRTD chip the applet became when it was locked; None before."""
        return self._chip

    def power_on(self) -> bytes:
        """Power up: selections and sessions dropped, what was written kept."""
        self.applet.power_on()
        if self._chip is not None:
            self._chip.power_on()
        return self.atr

    def reset(self) -> None:
        """Warm reset: as :meth:`power_on`."""
        self.power_on()

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU; never raises."""
        try:
            cmd = CommandAPDU.parse(bytes(raw))
        except CardlibError:
            return SW_WRONG_LENGTH.to_bytes(2, "big")
        if cmd.header == GET_UID_HEADER:
            return ResponseAPDU(self.uid, SW_OK).encode()
        if self._chip is not None:
            if cmd.ins in PERSONALIZATION_INS and not cmd.cla & SM_CLA:
                return SW_SECURITY_STATUS.to_bytes(2, "big")  # written once: locked
            return self._chip.process(raw)
        try:
            response = self.applet.process(cmd)
        except Exception:  # the last line of defence, as in VirtualChip.process
            return SW_UNKNOWN.to_bytes(2, "big")
        if self.applet.locked:
            self._chip = VirtualChip(self.applet.image(), self.options)
        return response.encode()


def _is_error(response: ResponseAPDU) -> bool:
    """An error status word (ISO 7816-4 §5.6: SW1 64-6F) with no data, which a chip may answer in plain."""
    return not response.data and 0x64 <= response.sw1 <= 0x6F


def _oversized(content: bytes, length: int) -> bytes:
    """``content`` re-wrapped under its own outer tag with a value of ``length`` bytes: its value, then zeros."""
    outer = read_tlv(content, file="oversized file")
    filler = bytes(max(0, length - len(outer.value)))
    return encode_tlv(outer.tag, outer.value[:length] + filler)


def _malformed_com(content: bytes) -> bytes:
    """EF.COM with its tag list as vsmartcard's ePass emulator writes it: hex text, declared one byte per tag.

    The DO5C then ends half-way through the text and the rest reads as a TLV claiming more bytes than remain.
    """
    objects = list(iter_tlvs(read_tlv(content, file="EF.COM").value, file="EF.COM"))
    tags = next(obj.value for obj in objects if obj.tag == TAG_TAG_LIST)
    text = tags.hex().upper().encode("ascii")
    value = b"".join(encode_tlv(obj.tag, obj.value) for obj in objects if obj.tag != TAG_TAG_LIST)
    value += bytes([TAG_TAG_LIST, len(tags)]) + text
    return bytes([content[0]]) + encode_length(len(value)) + value


def _ca_chip_factory(files: Mapping[str, bytes], secrets: ChipSecrets) -> Callable[[], CAChip] | None:
    """What makes each session's Chip Authentication state: the CA key with the protocol the chip announces.

    None when the image has no CA key, or announces a protocol or curve we cannot run (e.g. DH).
    """
    key = secrets.ca_private_key
    if key is None:
        return None
    protocol = _ca_protocol(files, secrets.ca_key_id)
    try:
        CAChip(key, protocol, secrets.ca_key_id)
    except CardlibError:
        return None
    return partial(CAChip, key, protocol, secrets.ca_key_id)


def _ca_protocol(files: Mapping[str, bytes], key_id: int | None) -> str:
    """The protocol of the ChipAuthenticationInfo for ``key_id`` in DG14, else in EF.CardAccess, else 3DES."""
    sources: tuple[tuple[str, Callable[[bytes], SecurityInfos]], ...] = (
        (lds_files.DATA_GROUPS[14].name, DG14.decode), (lds_files.EF_CARD_ACCESS.name, CardAccess.decode))
    for name, decode in sources:
        data = files.get(name)
        if data is None:
            continue
        try:
            infos = decode(data).chip_authentication_infos
        except CardlibError:
            continue
        for info in infos:
            if info.key_id in (None, key_id):
                return info.protocol
    return CA_ECDH_3DES


def _pace_parameters(card_access: bytes | None) -> tuple[PACEParameters, ...]:
    """The PACE variants EF.CardAccess offers that we implement (every mapping, ECDH and DH); none without it."""
    if card_access is None:
        return ()
    try:
        infos = CardAccess.decode(card_access).pace_infos
    except CardlibError:
        return ()
    offered = []
    for info in infos:
        if info.parameter_id is None:
            continue
        try:
            offered.append(PACEParameters(info.protocol, info.parameter_id))
        except CardlibError:
            continue
    return tuple(offered)
