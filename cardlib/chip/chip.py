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
:class:`~cardlib.chip.blank.BlankAppletChip` is the blank-applet mode: a JMRTD passport applet waiting to be
personalized (:mod:`cardlib.chip.applet`), which becomes a BAC-only :class:`VirtualChip` of what was written once
locked.

What the session's state lets each command do is one table (:mod:`cardlib.chip.session`); file commands live
in :mod:`cardlib.chip.files`, BAC and PACE in :mod:`cardlib.chip.access`, GET RESPONSE and 6Cxx resends in
:mod:`cardlib.chip.runtime`; :class:`~cardlib.chip.options.ChipOptions` switches on the behaviours of chips met
in the field.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cardlib.card.image import AAPrivateKey, CardImage, ChipSecrets
from cardlib.chip.access import AccessControl, OpenedSession
from cardlib.chip.files import FileCommands, Refused, field_files
from cardlib.chip.filesystem import FileSystem
from cardlib.chip.options import ChipOptions
from cardlib.chip.runtime import Runtime
from cardlib.chip.session import (
    Action,
    Command,
    Refuse,
    Session,
    State,
    command_of,
    held,
)
from cardlib.errors import CardlibError
from cardlib.lds import files as lds_files
from cardlib.lds.oids import IMPLIED_CA_PROTOCOL
from cardlib.lds.securityinfo import DG14, CardAccess, SecurityInfos
from cardlib.pki.cvc.chain import TrustPoint
from cardlib.protocols.aa import aa_sign
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.ca import CAChip
from cardlib.protocols.instructions import Ins
from cardlib.protocols.sm import MAC_DO_LENGTH, SecureMessaging
from cardlib.protocols.status import (
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_SM_MISSING,
    SW_SM_WRONG,
    SW_UNKNOWN,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
)
from cardlib.protocols.ta import TAChip, encode_ef_cvca

MAX_EF_CVCA_KEYS = 2
CLA_ALLOWED_BITS = 0x1C  # command chaining (10) and secure messaging indication (0C)
SM_CLA = 0x0C
CHALLENGE_LENGTH = 8


class VirtualChip:
    """An eMRTD chip holding one card image; feed it command APDUs with :meth:`process`."""

    def __init__(self, image: CardImage, options: ChipOptions | None = None) -> None:
        if image.secrets is None:
            raise CardlibError("a virtual chip needs a card image with secrets, not a dump")
        self.options = options or ChipOptions()
        files = field_files(image.files, self.options)
        self._secrets: ChipSecrets = image.secrets
        cvcas = self._secrets.trusted_cvca
        self._eac_trust = [TrustPoint.of(certificate) for certificate in cvcas]
        self._eac_date = self._secrets.eac_date or max((c.body.effective for c in cvcas), default=date.min)
        if cvcas and lds_files.EF_CVCA.name not in files:
            files[lds_files.EF_CVCA.name] = encode_ef_cvca([c.chr for c in cvcas][-MAX_EF_CVCA_KEYS:])
        self._fs = FileSystem(files)
        self._files = FileCommands(self._fs, self.options, self)
        self._access = AccessControl(self._secrets, self.options, self._fs.content(lds_files.EF_CARD_ACCESS.name))
        self._actions: dict[Action, Callable[[CommandAPDU], ResponseAPDU]] = {
            Action.SELECT: self._files.select,
            Action.READ_BINARY: self._files.read_binary,
            Action.BAC_CHALLENGE: self._bac_challenge,
            Action.BAC_MUTUAL_AUTHENTICATE: self._mutual_authenticate,
            Action.PACE_SET_AT: self._pace_set_at,
            Action.PACE_STEP: self._pace_step,
            Action.RANDOM_CHALLENGE: _random_challenge,
            Action.CHIP_AUTHENTICATION: self._chip_authentication,
            Action.TERMINAL_AUTHENTICATION: self._terminal_authentication,
        }
        aa_key = self._secrets.aa_private_key
        if aa_key is not None:
            self._actions[Action.ACTIVE_AUTHENTICATION] = partial(self._internal_authenticate, aa_key)
        self._new_ca_chip = _ca_chip_factory(files, self._secrets)
        self._runtime = Runtime(self._process, self.options)
        self._session = Session()
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
    def state(self) -> State:
        """The state of the session (:mod:`cardlib.chip.session`)."""
        return self._session.state

    @property
    def secure_messaging_active(self) -> bool:
        """True while secure messaging protects the channel (keys from BAC or PACE, then Chip Authentication)."""
        return self._session.state.secured

    def eac_released(self, number: int) -> bool:
        """True when Terminal Authentication in this session granted the right to read data group ``number``."""
        ta = self._session.ta
        return ta is not None and ta.may_read(number)

    def power_on(self) -> bytes:
        """Power the chip up: sessions and selections are dropped; returns the ATR."""
        self._reset_state()
        return self.atr

    def reset(self) -> None:
        """Warm reset: sessions and selections are dropped."""
        self._reset_state()

    def _reset_state(self) -> None:
        self._files.reset()
        self._runtime.reset()
        self._session = self._session.closed()

    # -- APDU processing ------------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU with response data and a status word; never raises.

        Hostile bytes get a status word: an unparseable APDU 6700, anything unforeseen 6F00 (and the
        session is closed, as a chip does after an internal error).
        """
        if self.options.latency:
            time.sleep(self.options.latency)
        try:
            return self._runtime.answer(bytes(raw)).encode()
        except Exception:  # the last line of defence: a reader must always get a status word
            self._session = self._session.closed()
            return SW_UNKNOWN.to_bytes(2, "big")

    def _process(self, cmd: CommandAPDU) -> ResponseAPDU:
        """The applet's answer: CLA checked, secure messaging unwrapped and wrapped around the command's run."""
        if cmd.cla & ~CLA_ALLOWED_BITS & 0xFF:
            return ResponseAPDU(b"", SW_CLA_NOT_SUPPORTED)
        if self._session.state.secured:
            return self._process_protected(cmd, held(self._session.secure_messaging))
        if cmd.cla & SM_CLA:
            return ResponseAPDU(b"", SW_SM_WRONG)
        return self._dispatch(cmd)

    def _process_protected(self, cmd: CommandAPDU, sm: SecureMessaging) -> ResponseAPDU:
        """Unwrap, execute and wrap one command of an SM session; SM errors end the session in plain.

        After a successful Chip Authentication (``CA_PENDING``) the answer is still wrapped with the old keys;
        the chip switches to the new session (SSC 0) only then, for the next command (ICAO 9303-11 §6.2).
        """
        if cmd.cla & SM_CLA != SM_CLA:
            self._session = self._session.closed()
            return ResponseAPDU(b"", SW_SM_MISSING)
        try:
            plain = sm.unprotect_command(cmd)
        except CardlibError:
            self._session = self._session.closed()
            return ResponseAPDU(b"", SW_SM_WRONG)
        response = self._dispatch(plain)
        if not cmd.extended and len(response.data) > sm.max_plain_read and self.options.chaining is None:
            response = ResponseAPDU(b"", SW_WRONG_LENGTH)  # the protected answer would not fit 256 bytes
        answer = self._protect(sm, response)
        if self._session.state is State.CA_PENDING:
            self._session = self._session.switched(self._new_ta_chip()) if response.ok else self._session.kept()
        return answer

    def _protect(self, sm: SecureMessaging, response: ResponseAPDU) -> ResponseAPDU:
        """``response`` protected as the options say: errors in plain, or a MAC only on 9000."""
        if self.options.plain_errors is not None and _is_error(response):
            sm.advance(self.options.plain_errors - 1)
            return response
        protected = sm.protect_response(response, status=not self.options.mac_only_9000)
        if self.options.mac_only_9000 and not response.ok:
            sm.advance(-1)  # the response is not counted
            return ResponseAPDU(protected.data[:-MAC_DO_LENGTH], response.sw)
        return protected

    def _dispatch(self, cmd: CommandAPDU) -> ResponseAPDU:
        """Run ``cmd`` as the session's state says (:data:`~cardlib.chip.session.TABLE`), after the checks a
        chip makes before it looks at the session."""
        command = command_of(cmd)
        if command is None or (command is Command.INTERNAL_AUTHENTICATE and self._secrets.aa_private_key is None):
            return ResponseAPDU(b"", SW_INS_NOT_SUPPORTED)
        if cmd.extended and not self.options.extended_length:
            return ResponseAPDU(b"", self.options.extended_sw)
        internal_error = dict(self.options.internal_errors).get(cmd.ins)
        if internal_error is not None and not self._session.state.secured:
            return ResponseAPDU(b"", internal_error)
        try:
            self._check_header(command, cmd)
            action = self._session.action(command)
            if isinstance(action, Refuse):
                return ResponseAPDU(b"", action.sw)
            return self._actions[action](cmd)
        except Refused as status:
            return ResponseAPDU(b"", status.sw)

    def _check_header(self, command: Command, cmd: CommandAPDU) -> None:
        """What a command's header earns whatever the session: GET CHALLENGE and GENERAL AUTHENTICATE take
        P1-P2 0000 (GET CHALLENGE an Le of 8 and no data), BAC's MUTUAL AUTHENTICATE is checked in plain."""
        if command in (Command.GET_CHALLENGE, Command.GENERAL_AUTHENTICATE) and (cmd.p1 or cmd.p2):
            raise Refused(SW_WRONG_P1P2)
        if command is Command.GET_CHALLENGE and (cmd.le != CHALLENGE_LENGTH or cmd.data):
            raise Refused(SW_WRONG_LENGTH)
        if command is Command.EXTERNAL_AUTHENTICATE and not self._session.state.secured:
            self._access.check_mutual_authenticate(cmd)

    # -- BAC and PACE ---------------------------------------------------------------------------------

    def _bac_challenge(self, cmd: CommandAPDU) -> ResponseAPDU:
        """GET CHALLENGE outside a session: RND.IC, starting BAC (a random nonce on a chip without BAC)."""
        if not self.options.bac:
            return _random_challenge(cmd)
        bac = self._access.bac_run()
        self._session = self._session.bac_started(bac)
        return ResponseAPDU(bac.challenge(), SW_OK)

    def _mutual_authenticate(self, cmd: CommandAPDU) -> ResponseAPDU:
        """EXTERNAL/MUTUAL AUTHENTICATE of BAC (ICAO 9303-11 §4.3): the challenge is used once, whatever the
        outcome (6300 when the MRZ keys are wrong)."""
        try:
            response, opened = self._access.mutual_authenticate(held(self._session.bac), cmd)
        except Refused:
            self._session = self._session.closed()
            raise
        self._open(opened)
        return ResponseAPDU(response, SW_OK)

    def _pace_set_at(self, cmd: CommandAPDU) -> ResponseAPDU:
        """MSE:Set AT for PACE: a new PACE run; a refused one leaves none."""
        self._session = self._session.closed()
        self._session = self._session.pace_started(self._access.pace_set_at(cmd))
        return ResponseAPDU(b"", SW_OK)

    def _pace_step(self, cmd: CommandAPDU) -> ResponseAPDU:
        """One step of PACE (:meth:`AccessControl.pace_step`): a failed one ends the run, the last opens the
        session."""
        try:
            response, opened = self._access.pace_step(held(self._session.pace), cmd)
        except Refused:
            self._session = self._session.closed()
            raise
        if opened is not None:
            self._open(opened)
        return ResponseAPDU(response, SW_OK)

    def _open(self, opened: OpenedSession) -> None:
        """Secure messaging from now on, as BAC or PACE agreed, with this session's Chip Authentication."""
        ca = self._new_ca_chip() if self._new_ca_chip is not None else None
        self._session = self._session.opened(opened.secure_messaging, opened.id_picc, ca)

    # -- Active Authentication ----------------------------------------------------------------------

    def _internal_authenticate(self, key: AAPrivateKey, cmd: CommandAPDU) -> ResponseAPDU:
        """INTERNAL AUTHENTICATE (ICAO 9303-11 §6.1): sign the terminal's 8-byte challenge, after BAC/PACE."""
        if cmd.p1 or cmd.p2:
            raise Refused(SW_WRONG_P1P2)
        if len(cmd.data) != CHALLENGE_LENGTH or cmd.le is None:
            raise Refused(SW_WRONG_LENGTH)
        if self.options.aa_short_le_only and cmd.le > 256:
            raise Refused(SW_WRONG_LENGTH)
        signature = aa_sign(key, cmd.data, hash_name=self.options.aa_hash)
        if self.options.aa_ecdsa_der and isinstance(key, ec.EllipticCurvePrivateKey):
            half = len(signature) // 2
            signature = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                             int.from_bytes(signature[half:], "big"))
        if len(signature) > self._files.expected_length(cmd):
            raise Refused(SW_WRONG_LENGTH)
        return ResponseAPDU(signature, SW_OK)

    # -- Chip and Terminal Authentication -------------------------------------------------------------

    def _chip_authentication(self, cmd: CommandAPDU) -> ResponseAPDU:
        """MSE:Set KAT, MSE:Set AT or GENERAL AUTHENTICATE of Chip Authentication, inside a BAC/PACE session.

        A chip without a CA key answers MSE with 6A88 (referenced data not found: the instruction exists, as
        PACE uses it, but there is no key to reference) and GENERAL AUTHENTICATE with 6985 (no security
        environment set).  The keys agreed here wait in ``CA_PENDING`` until the answer has gone out.
        """
        ca = self._session.ca
        if ca is None:
            raise Refused(SW_CONDITIONS if cmd.ins == Ins.GENERAL_AUTHENTICATE else SW_REFERENCE_NOT_FOUND)
        response, agreed = ca.handle(cmd)
        if agreed is not None:
            self._session = self._session.ca_agreed(agreed)
        return response

    def _new_ta_chip(self) -> TAChip | None:
        """Terminal Authentication's state once Chip Authentication switched the keys; None without a CVCA."""
        if not self._eac_trust:
            return None
        return TAChip(self._eac_trust, self._eac_date, id_picc=self._session.id_picc,
                      ephemeral_public_key=held(self._session.ca).terminal_public_key)

    def _terminal_authentication(self, cmd: CommandAPDU) -> ResponseAPDU:
        """A Terminal Authentication command, after Chip Authentication on a chip trusting a CVCA; what the chip
        learnt of the date and CVCA keys outlives the session."""
        ta = held(self._session.ta)
        response = ta.handle(cmd)
        self._eac_trust, self._eac_date = list(ta.trust_points), ta.current_date
        return response


def _random_challenge(cmd: CommandAPDU) -> ResponseAPDU:
    """GET CHALLENGE answered with a random nonce (inside a session, or on a chip without BAC)."""
    return ResponseAPDU(os.urandom(CHALLENGE_LENGTH), SW_OK)


def _is_error(response: ResponseAPDU) -> bool:
    """An error status word (ISO 7816-4 §5.6: SW1 64-6F) with no data, which a chip may answer in plain."""
    return not response.data and 0x64 <= response.sw1 <= 0x6F


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
    return IMPLIED_CA_PROTOCOL
