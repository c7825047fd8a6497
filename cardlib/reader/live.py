"""The live checks of a read: PACE-CAM (against EF.CardSecurity), Chip, Terminal and Active Authentication.

Each is a check of the chip, not a step of the read: its outcome is a result object (performed, passed, why),
never an exception, and a chip that fails one is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from cardlib.errors import CardlibError, DecodeError, ProtocolError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.dg15 import DG15
from cardlib.lds.files import DATA_GROUPS, EF_CARD_SECURITY, EF_CVCA
from cardlib.lds.oids import IMPLIED_CA_PROTOCOL
from cardlib.lds.securityinfo import DG14
from cardlib.model.mrz import MRZ_INFORMATION_TAIL
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.pki.eac import EACPKI
from cardlib.protocols.aa import PublicKey, aa_verify
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.ca import CATerminal, CATranscript
from cardlib.protocols.instructions import Ins
from cardlib.protocols.pace import PACETerminal
from cardlib.protocols.pace.cam import CAMProof, keys_on, verify_proof
from cardlib.protocols.status import SW_WRONG_LENGTH
from cardlib.protocols.ta import TAError, TATerminal, decode_ef_cvca, id_picc_after_bac, id_picc_after_pace
from cardlib.reader.access import AccessKey
from cardlib.reader.channel import Channel, ExtendedUnsupportedError
from cardlib.reader.contents import read_listed
from cardlib.reader.errors import HINT_CHIP_ERROR, ChipRefusedError, SecureMessagingError, refused
from cardlib.reader.files import (
    EXTENDED_READ_SIZE,
    EXTENDED_REFUSALS,
    MF_FID,
    FileAbsentError,
    FileProtectedError,
    FileReader,
    select,
    select_application,
)

_DER_SIGNATURE_OVERHEAD = 8  # SEQUENCE and two INTEGER headers, each with a possible leading zero


@dataclass(frozen=True)
class ChipAuthResult:
    """Outcome of Chip Authentication: whether it ran, whether the chip proved its DG14 key, and why.

    ``transcript`` (when it passed) lets a verifier elsewhere re-check it (:mod:`cardlib.evidence`); it reveals
    the finished session's ephemeral key, so it is left out of ``repr``.  ``cam_proof`` is the same for
    PACE-CAM: the proof as received, whatever its check gave (None unless PACE-CAM completed).
    """

    performed: bool
    passed: bool
    reason: str
    transcript: CATranscript | None = field(default=None, repr=False)
    cam_proof: CAMProof | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ActiveAuthResult:
    """Outcome of Active Authentication: whether it ran, whether the DG15 key verified the signature, and why;
    the challenge sent and the chip's signature (empty when none came), for evidence (:mod:`cardlib.evidence`)."""

    performed: bool
    passed: bool
    reason: str
    challenge: bytes = b""
    signature: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class TerminalAuthResult:
    """Outcome of Terminal Authentication: whether it ran, whether the chip accepted the terminal, why, and
    the EAC-protected files (DG3, DG4) the chip then released."""

    performed: bool
    passed: bool
    reason: str
    released: tuple[str, ...] = ()


NO_EAC = TerminalAuthResult(False, False, "no EAC terminal credentials given")
"""The Terminal Authentication result of a read without EAC credentials."""

NO_PACE_CAM = ChipAuthResult(False, False, "not opened with PACE-CAM")
"""The PACE-CAM result of a read opened with another mapping, or with BAC."""


@dataclass(frozen=True, repr=False)
class EACCredentials:
    """What a terminal needs for Terminal Authentication: its CV certificate chain (link certificates, DV,
    inspection system, from the chip's CVCA down) and a signer with the inspection system's private key (a
    file's key or a token's, in the CV signature form of :func:`cardlib.pki.cvc.keys.cv_signer`)."""

    chain: tuple[CVCertificate, ...]
    signer: Callable[[bytes], bytes]

    @classmethod
    def of(cls, pki: EACPKI) -> EACCredentials:
        """The inspection system of a (test) EAC PKI."""
        return cls(tuple(pki.chain), pki.terminal_signer())

    @classmethod
    def load(cls, directory: Path) -> EACCredentials:
        """The inspection system of the EAC PKI folder ``cardtool pki eac init`` wrote; PKIError naming the
        missing or corrupt file."""
        return cls.of(EACPKI.load(Path(directory)))

    def __repr__(self) -> str:
        return f"EACCredentials(chain={[certificate.chr for certificate in self.chain]})"


def check_pace_cam(channel: Channel, reader: FileReader,
                   terminal: PACETerminal | None) -> tuple[ChipAuthResult, bytes | None]:
    """After PACE-CAM: EF.CardSecurity from the master file, and whether the chip's authentication data proves
    the static key it holds (passed), does not (failed: a clone), or cannot be checked (not performed); the
    result carries the proof as received (:attr:`ChipAuthResult.cam_proof`) for evidence.

    The file's signature is not checked here: the verifier does (``cardsecurity.*``), and a PACE-CAM result
    counts only with it.  Leaves the eMRTD application selected.
    """
    result, data = _pace_cam_result(channel, reader, terminal)
    proof = terminal.cam_proof if terminal is not None else None
    return (result if proof is None else replace(result, cam_proof=proof)), data


def _pace_cam_result(channel: Channel, reader: FileReader,
                     terminal: PACETerminal | None) -> tuple[ChipAuthResult, bytes | None]:
    if terminal is None or terminal.params.mapping != "CAM":
        return NO_PACE_CAM, None
    try:
        command, response = select(channel, 0x00, MF_FID)
        if not response.ok:
            raise refused("SELECT of the master file", command, response.sw, HINT_CHIP_ERROR)
        data = reader.read_file(EF_CARD_SECURITY, learn_sfi=False)
    except (FileAbsentError, FileProtectedError, ChipRefusedError) as exc:
        why = str(exc) if isinstance(exc, ChipRefusedError) else "the chip gives no EF.CardSecurity"
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked ({why}): the key its authentication "
                              "data proves is in EF.CardSecurity"), None
    finally:
        select_application(channel)
    try:
        keys = CardSecurity.decode(data).chip_authentication_keys
    except CardlibError as exc:
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked: {exc}"), data
    curve, proof = terminal.params.curve, terminal.cam_proof
    candidates = keys_on(curve, (info.public_key for info in keys))
    if proof is None:
        return ChipAuthResult(False, False, "PACE-CAM cannot be checked: PACE-CAM did not complete"), data
    if not candidates:
        return ChipAuthResult(False, False, f"PACE-CAM cannot be checked: EF.CardSecurity holds no Chip "
                              f"Authentication key on {curve.name}"), data
    try:
        verify_proof(curve, proof, candidates)
    except ProtocolError as exc:
        return ChipAuthResult(True, False, f"PACE-CAM: {exc}"), data
    return ChipAuthResult(True, True, "the chip's PACE-CAM authentication data proves the static key of "
                          "EF.CardSecurity (its signature: see cardsecurity.signature)"), data


def chip_authentication(channel: Channel, reader: FileReader, dg14: bytes | None) -> ChipAuthResult:
    if dg14 is None:
        return ChipAuthResult(False, False, "no DG14 on the chip")
    infos = DG14.decode(dg14)
    key_info = next(iter(infos.chip_authentication_public_key_infos), None)
    if key_info is None:
        return ChipAuthResult(False, False, "DG14 has no ChipAuthenticationPublicKeyInfo")
    if not isinstance(key_info.public_key, ECPublicKeyInfo):
        return ChipAuthResult(False, False, "DG14 holds a Diffie-Hellman key: only ECDH is supported")
    protocol = next((info.protocol for info in infos.chip_authentication_infos
                     if info.key_id in (None, key_info.key_id)), IMPLIED_CA_PROTOCOL)
    try:
        terminal = CATerminal(key_info.public_key, protocol, key_info.key_id)
    except ProtocolError as exc:
        return ChipAuthResult(False, False, f"Chip Authentication not possible: {exc}")
    try:
        for command in terminal.commands():
            channel.require_ok(command, "Chip Authentication", "the read is complete; this chip failed Chip "
                               "Authentication")
        channel.sm = terminal.complete()
        channel.ca_terminal, channel.after_switch = terminal, []
        channel.reopen = None  # a session opened again would not be the chip-authenticated one
        reader.session_changed()
        select_application(channel)
    except ChipRefusedError as exc:
        return ChipAuthResult(True, False, str(exc))
    except SecureMessagingError as exc:
        channel.sm = None  # the chip ended the session; nothing more can be sent under it
        return ChipAuthResult(True, False, str(exc))
    return ChipAuthResult(True, True, "secure messaging continues under keys agreed with the DG14 key")


_EAC_FILES = (DATA_GROUPS[3], DATA_GROUPS[4])


def terminal_authentication(channel: Channel, reader: FileReader, eac: EACCredentials | None, id_picc: bytes,
                            ca_result: ChipAuthResult, contents: dict[str, bytes],
                            refused_files: list[str]) -> TerminalAuthResult:
    """Terminal Authentication when it can open something (credentials given, DG3/DG4 refused, CA passed),
    then the refused EAC files read again into ``contents``; those released leave ``refused_files``."""
    wanted = [spec.name for spec in _EAC_FILES if spec.name in refused_files]
    if eac is None:
        return NO_EAC
    if not wanted:
        return TerminalAuthResult(False, False, "the chip refused no EAC-protected file (DG3, DG4)")
    if not ca_result.passed or channel.ca_terminal is None or channel.sm is None:
        return TerminalAuthResult(False, False, "Terminal Authentication needs a passed Chip Authentication")
    cars = _ef_cvca(reader)
    first = eac.chain[0].car
    if cars and first not in cars:
        return TerminalAuthResult(False, False, f"the chip trusts CVCA {' and '.join(cars)}, the terminal's "
                                  f"chain starts from {first}")
    try:
        terminal = TATerminal(eac.chain, eac.signer, id_picc=id_picc,
                              ephemeral_public_key=channel.ca_terminal.ephemeral_public_key)
        for step in terminal.steps():
            challenge = terminal.check(step, channel.exchange(step.command))
        final = terminal.external_authenticate(challenge)
        terminal.check(final, channel.exchange(final.command))
    except TAError as exc:
        return TerminalAuthResult(True, False, str(exc))
    except SecureMessagingError as exc:
        channel.sm = None  # the chip ended the session; nothing more can be sent under it
        return TerminalAuthResult(True, False, str(exc))
    except ProtocolError as exc:  # a chain not ending with an inspection system, a malformed challenge
        return TerminalAuthResult(True, False, f"Terminal Authentication: {exc}")
    still: list[str] = []
    read_listed(reader, [spec for spec in _EAC_FILES if spec.name in wanted], contents, still, lister=None)
    released = tuple(name for name in wanted if name in contents)
    refused_files[:] = [name for name in refused_files if name not in released]
    granted = ", ".join(released) or "none of " + ", ".join(wanted)
    return TerminalAuthResult(True, True, f"the chip accepted {terminal.chain[-1].chr}; released: {granted}",
                              released)


def _ef_cvca(reader: FileReader) -> list[str]:
    """The CVCA keys EF.CVCA names; empty when the chip has none, refuses it, or it does not decode."""
    try:
        return decode_ef_cvca(reader.read_file(EF_CVCA, learn_sfi=False))
    except (FileAbsentError, FileProtectedError, ChipRefusedError, DecodeError):
        return []
    finally:
        reader.channel.file = None


def ta_id_picc(pace_terminal: PACETerminal | None, key: AccessKey) -> bytes:
    """The chip's identifier Terminal Authentication signs: after PACE its ephemeral key, after BAC the document
    number with its check digit (from the MRZ information)."""
    if pace_terminal is not None:
        return id_picc_after_pace(pace_terminal.chip_ephemeral_public_key)
    return id_picc_after_bac(key.secret[:-MRZ_INFORMATION_TAIL])


def active_authentication(channel: Channel, reader: FileReader, dg15: bytes | None,
                          challenge: bytes) -> ActiveAuthResult:
    if dg15 is None:
        return ActiveAuthResult(False, False, "no DG15 on the chip")
    public_key = DG15.decode(dg15).public_key.cryptography_key()
    if public_key is None:
        return ActiveAuthResult(False, False, "the DG15 key's curve is not supported for signature checks")
    command = CommandAPDU(0x00, Ins.INTERNAL_AUTHENTICATE, 0x00, 0x00, challenge,
                          le=EXTENDED_READ_SIZE if reader.extended else 256)
    try:
        response = channel.exchange(command)
    except ExtendedUnsupportedError:
        response = ResponseAPDU(b"", SW_WRONG_LENGTH)
    if response.sw in EXTENDED_REFUSALS and command.le != _signature_length(public_key):
        command = CommandAPDU(0x00, Ins.INTERNAL_AUTHENTICATE, 0x00, 0x00, challenge, le=_signature_length(public_key))
        response = channel.exchange(command)
    if not response.ok:
        error = refused("Active Authentication", command, response.sw, "the read is complete; this chip failed "
                        "Active Authentication")
        return ActiveAuthResult(True, False, str(error), challenge)
    verdict = aa_verify(public_key, challenge, response.data)
    return ActiveAuthResult(True, verdict.ok, verdict.reason, challenge, response.data)


def _signature_length(public_key: PublicKey) -> int:
    """The longest Active Authentication signature ``public_key`` verifies: the modulus, or DER ``r, s``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return (public_key.key_size + 7) // 8
    return 2 * ((public_key.curve.key_size + 7) // 8) + _DER_SIGNATURE_OVERHEAD
