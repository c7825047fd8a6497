"""Terminal Authentication version 1 (EAC v1: BSI TR-03110 v1.11 and TR-03110-3 B.11), terminal and chip side, sans I/O.

After Chip Authentication, the terminal proves to the chip that a document verifier of the issuing country's
CVCA authorised it to read the fingerprints (DG3) or iris (DG4).  Under secure messaging:

1. for each certificate from the chip's trusted CVCA down to the terminal's own (link certificates, DV, IS):
   MSE:SET DST (``00 22 81 B6``, ``83`` CAR) names the key to verify with, PSO:VERIFY CERTIFICATE
   (``00 2A 00 BE``, body ``7F4E`` and signature ``5F37``) has the chip check it and import its key;
2. MSE:SET AT (``00 22 81 A4``, ``83`` CHR of the terminal's certificate) selects the terminal's key;
3. GET CHALLENGE (``00 84 00 00 08``) gives the chip's 8-byte challenge r_PICC;
4. EXTERNAL AUTHENTICATE (``00 82 00 00``) carries the terminal's signature over
   ``ID_PICC ‖ r_PICC ‖ Comp(PK_PCD)``: the chip's identifier (after BAC the document number and its check
   digit, after PACE the compressed PACE ephemeral key of the chip) and the compressed ephemeral public key
   the terminal used in Chip Authentication, which binds TA to that secure channel.

The chip grants the rights of the CHAT chain (the AND of CVCA, DV and terminal CHATs, TR-03110-3 C.4).  Its
current date only moves forward, from CVCA, DV and domestic terminal certificates (see
:func:`cardlib.pki.cvc.chain.validate_certificate`).  A link certificate verified with the current CVCA key becomes a
trust point of the chip for later sessions (:attr:`TAChip.trust_points`).

Failures are typed: the chip answers status words and never raises; the terminal raises :class:`TAError` with
the step, the status word and the certificate it concerned.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from cardlib.errors import CardlibError, DecodeError, ProtocolError
from cardlib.lds.tlv import TLV, encode_tlv, iter_tlvs
from cardlib.model.mrz import check_digit
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.pki.cvc.chain import ChainFailure, CVCChainError, TrustPoint, effective_rights, validate_certificate
from cardlib.pki.cvc.chat import AccessRight, Role
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.protocols.instructions import MSE, Ins, p1p2
from cardlib.protocols.status import (
    SW_AUTH_FAILED,
    SW_CONDITIONS,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
)

TAG_REFERENCE = 0x83
CHALLENGE_LENGTH = 8


# How the chip answers each refusal of a certificate.
_CHAIN_STATUS = {ChainFailure.UNKNOWN_AUTHORITY: SW_REFERENCE_NOT_FOUND}

TAG_EF_CVCA_CAR = 0x42
EF_CVCA_LENGTH = 36  # two CARs of at most 16 characters with their headers, padded with 00


def compress_public_key(public_key: bytes) -> bytes:
    """Comp(PK) of TR-03110-3 A.2.2.3: the x-coordinate of an uncompressed EC point, else SHA-1 of a DH key."""
    if public_key[:1] == b"\x04" and len(public_key) % 2 == 1 and len(public_key) > 1:
        return public_key[1 : 1 + len(public_key) // 2]
    return hashlib.sha1(public_key).digest()


def id_picc_after_bac(document_number: str) -> bytes:
    """ID_PICC after Basic Access Control: the MRZ document number followed by its check digit."""
    return (document_number + check_digit(document_number)).encode("ascii")


def id_picc_after_pace(chip_ephemeral_public_key: bytes) -> bytes:
    """ID_PICC after PACE: Comp of the chip's ephemeral PACE public key."""
    return compress_public_key(chip_ephemeral_public_key)


def signed_data(id_picc: bytes, challenge: bytes, terminal_ephemeral_public_key: bytes) -> bytes:
    """What the terminal signs: ``ID_PICC ‖ r_PICC ‖ Comp(PK_PCD)``."""
    return id_picc + challenge + compress_public_key(terminal_ephemeral_public_key)


def encode_ef_cvca(cars: Sequence[str]) -> bytes:
    """EF.CVCA (TR-03110-1, FID 011C, SFI 1C): one or two CAR objects (``42``), padded with 00 to 36 bytes."""
    if not 1 <= len(cars) <= 2:
        raise ProtocolError(f"EF.CVCA names one or two CVCA keys, not {len(cars)}")
    data = b"".join(encode_tlv(TAG_EF_CVCA_CAR, car.encode("latin-1")) for car in cars)
    return data + bytes(EF_CVCA_LENGTH - len(data))


def decode_ef_cvca(data: bytes) -> list[str]:
    """The CARs EF.CVCA names (the chip's trusted CVCA keys, newest last); DecodeError when malformed."""
    content = data.rstrip(b"\x00")
    cars = list(iter_tlvs(content, file="EF.CVCA"))
    if not 1 <= len(cars) <= 2 or any(obj.tag != TAG_EF_CVCA_CAR or not obj.value for obj in cars):
        raise DecodeError("one or two CARs (42) expected", file="EF.CVCA", offset=0)
    return [obj.value.decode("latin-1") for obj in cars]


class TAError(ProtocolError):
    """Terminal Authentication refused: ``step`` names the command, ``sw`` the chip's status word, ``chr``
    the certificate concerned (when the step was about one)."""

    def __init__(self, step: str, sw: int, chr: str | None = None) -> None:
        self.step = step
        self.sw = sw
        self.chr = chr
        about = f" for {chr}" if chr else ""
        super().__init__(f"Terminal Authentication: {step}{about} refused by the chip (SW {sw:04X})")


def _mse(setting: MSE, reference: str) -> CommandAPDU:
    return CommandAPDU(0x00, Ins.MANAGE_SECURITY_ENVIRONMENT, setting.p1, setting.p2,
                       encode_tlv(TAG_REFERENCE, reference.encode("latin-1")))


@dataclass(frozen=True)
class TAStep:
    """One command of the terminal's side, with what it is for (to name a refusal)."""

    name: str
    command: CommandAPDU
    chr: str | None = None


class TATerminal:
    """The terminal's half: the certificate chain and the key of its own (last) certificate.

    ``signer`` signs bytes with the terminal's private key in the CV form (:func:`cardlib.pki.cvc.keys.cv_signer`),
    so the key may live in a file or a token.  The chip's identifier and the terminal's Chip Authentication
    ephemeral public key bind the signature to this chip and this session.
    """

    def __init__(self, chain: Sequence[CVCertificate], signer: Callable[[bytes], bytes], *, id_picc: bytes,
                 ephemeral_public_key: bytes) -> None:
        if not chain or chain[-1].role is not Role.INSPECTION_SYSTEM:
            raise ProtocolError("Terminal Authentication needs a chain ending with an inspection system certificate")
        self.chain = tuple(chain)
        self._signer = signer
        self._id_picc = id_picc
        self._ephemeral_public_key = ephemeral_public_key

    def __repr__(self) -> str:
        return f"TATerminal(chain={[certificate.chr for certificate in self.chain]})"

    def steps(self) -> list[TAStep]:
        """The commands up to GET CHALLENGE, each to answer 9000 (check with :meth:`check`)."""
        steps: list[TAStep] = []
        for certificate in self.chain:
            steps.append(TAStep("MSE:SET DST", _mse(MSE.SET_DST_TA, certificate.car), certificate.chr))
            steps.append(TAStep("PSO:VERIFY CERTIFICATE", CommandAPDU(
                0x00, Ins.PERFORM_SECURITY_OPERATION, MSE.PSO_VERIFY_CERTIFICATE.p1, MSE.PSO_VERIFY_CERTIFICATE.p2,
                certificate.command_data()), certificate.chr))
        steps.append(TAStep("MSE:SET AT", _mse(MSE.SET_AT_TA, self.chain[-1].chr), self.chain[-1].chr))
        steps.append(TAStep("GET CHALLENGE", CommandAPDU(0x00, Ins.GET_CHALLENGE, 0, 0, b"", CHALLENGE_LENGTH)))
        return steps

    @staticmethod
    def check(step: TAStep, response: ResponseAPDU) -> bytes:
        """The response data of ``step``; TAError when the chip refused it."""
        if response.sw != SW_OK:
            raise TAError(step.name, response.sw, step.chr)
        if step.name == "GET CHALLENGE" and len(response.data) != CHALLENGE_LENGTH:
            raise TAError(step.name, SW_WRONG_LENGTH)
        return response.data

    def external_authenticate(self, challenge: bytes) -> TAStep:
        """EXTERNAL AUTHENTICATE with the signature over ``ID_PICC ‖ r_PICC ‖ Comp(PK_PCD)``."""
        if len(challenge) != CHALLENGE_LENGTH:
            raise ProtocolError(f"the chip's challenge is {len(challenge)} bytes, not {CHALLENGE_LENGTH}")
        signature = self._signer(signed_data(self._id_picc, challenge, self._ephemeral_public_key))
        return TAStep("EXTERNAL AUTHENTICATE", CommandAPDU(0x00, Ins.EXTERNAL_AUTHENTICATE, 0, 0, signature),
                      self.chain[-1].chr)


@dataclass(frozen=True)
class _Imported:
    """A key the chip verified in this session, with the rights its chain grants."""

    trust_point: TrustPoint
    rights: AccessRight


class TAChip:
    """The chip's half: answers the TA commands with status words, never raising.

    ``trust_points`` are the chip's CVCA keys (one, or two during a CVCA rollover); ``current_date`` is the
    chip's idea of today, which only moves forward.  ``id_picc`` and ``ephemeral_public_key`` come from the
    access control and Chip Authentication that preceded TA.  After a successful EXTERNAL AUTHENTICATE,
    :attr:`granted` holds the rights and :meth:`may_read` says which data groups to release.
    """

    def __init__(self, trust_points: Sequence[TrustPoint], current_date: date, *, id_picc: bytes,
                 ephemeral_public_key: bytes, rng: Callable[[int], bytes] = os.urandom) -> None:
        self.trust_points = list(trust_points)
        self.current_date = current_date
        self.granted: AccessRight | None = None
        self._id_picc = id_picc
        self._ephemeral_public_key = ephemeral_public_key
        self._rng = rng
        self._imported: dict[str, _Imported] = {}
        self._verifier: _Imported | None = None
        self._terminal: _Imported | None = None
        self._challenge: bytes | None = None

    def __repr__(self) -> str:
        return f"TAChip(trust_points={[point.chr for point in self.trust_points]}, granted={self.granted})"

    @property
    def authenticated(self) -> bool:
        """Whether a terminal completed TA in this session."""
        return self.granted is not None

    def may_read(self, data_group: int) -> bool:
        """Whether the authenticated terminal may read DG``data_group`` (only DG3 and DG4 are EAC-protected)."""
        needed = {3: AccessRight.READ_DG3, 4: AccessRight.READ_DG4}.get(data_group)
        return needed is None or (self.granted is not None and needed in self.granted)

    def handle(self, cmd: CommandAPDU) -> ResponseAPDU:
        """Process one (unprotected) TA command: MSE:SET DST/AT, PSO:VERIFY CERTIFICATE, GET CHALLENGE,
        EXTERNAL AUTHENTICATE."""
        setting = p1p2(cmd.p1, cmd.p2)
        if cmd.ins == Ins.MANAGE_SECURITY_ENVIRONMENT and setting == MSE.SET_DST_TA:
            return self._status(self._set_dst(cmd.data))
        if cmd.ins == Ins.PERFORM_SECURITY_OPERATION and setting == MSE.PSO_VERIFY_CERTIFICATE:
            return self._status(self._verify_certificate(cmd.data))
        if cmd.ins == Ins.MANAGE_SECURITY_ENVIRONMENT and setting == MSE.SET_AT_TA:
            return self._status(self._set_at(cmd.data))
        if cmd.ins == Ins.GET_CHALLENGE:
            self._challenge = self._rng(CHALLENGE_LENGTH)
            return ResponseAPDU(self._challenge, SW_OK)
        if cmd.ins == Ins.EXTERNAL_AUTHENTICATE:
            return self._status(self._external_authenticate(cmd.data))
        return self._status(SW_WRONG_P1P2)

    @staticmethod
    def _status(sw: int) -> ResponseAPDU:
        return ResponseAPDU(b"", sw)

    def _reference(self, data: bytes) -> str | None:
        try:
            objects: list[TLV] = list(iter_tlvs(data, file="MSE"))
        except DecodeError:
            return None
        if len(objects) != 1 or objects[0].tag != TAG_REFERENCE:
            return None
        return objects[0].value.decode("latin-1")

    def _set_dst(self, data: bytes) -> int:
        self._verifier = None
        reference = self._reference(data)
        if reference is None:
            return SW_WRONG_DATA
        anchor = next((point for point in self.trust_points if point.chr == reference), None)
        found = _Imported(anchor, anchor.chat.rights) if anchor else self._imported.get(reference)
        if found is None:
            return SW_REFERENCE_NOT_FOUND
        self._verifier = found
        return SW_OK

    def _verify_certificate(self, data: bytes) -> int:
        if self._verifier is None:
            return SW_CONDITIONS
        issuer, self._verifier = self._verifier, None
        try:
            certificate = CVCertificate.decode_command_data(data)
            validated = validate_certificate(certificate, issuer.trust_point, self.current_date)
        except CVCChainError as error:
            return _CHAIN_STATUS.get(error.failure, SW_WRONG_DATA)
        except CardlibError:
            return SW_WRONG_DATA
        self.current_date = validated.current_date
        imported = _Imported(validated.trust_point, effective_rights(issuer.rights, certificate))
        if certificate.role is Role.CVCA:
            self.trust_points.append(validated.trust_point)  # a link certificate: a new trust point
        self._imported[certificate.chr] = imported
        return SW_OK

    def _set_at(self, data: bytes) -> int:
        self._terminal = None
        reference = self._reference(data)
        if reference is None:
            return SW_WRONG_DATA
        found = self._imported.get(reference)
        if found is None or found.trust_point.role is not Role.INSPECTION_SYSTEM:
            return SW_REFERENCE_NOT_FOUND
        self._terminal = found
        return SW_OK

    def _external_authenticate(self, signature: bytes) -> int:
        terminal, challenge, self._challenge = self._terminal, self._challenge, None
        if terminal is None or challenge is None:
            return SW_CONDITIONS
        data = signed_data(self._id_picc, challenge, self._ephemeral_public_key)
        try:
            verified = terminal.trust_point.public_key.verify(signature, data)
        except CardlibError:
            verified = False
        if not verified:
            return SW_AUTH_FAILED
        self.granted = terminal.rights
        return SW_OK


__all__ = [
    "CHALLENGE_LENGTH",
    "TAChip",
    "TAError",
    "TAStep",
    "TATerminal",
    "compress_public_key",
    "decode_ef_cvca",
    "encode_ef_cvca",
    "id_picc_after_bac",
    "id_picc_after_pace",
    "signed_data",
]
