"""Access control of the virtual chip: the chip side of BAC and PACE, up to the session they open.

:class:`AccessControl` answers the commands of BAC and PACE outside a session; the run under way (the
:class:`~cardlib.protocols.bac.BACChip` after GET CHALLENGE, the :class:`~cardlib.protocols.pace.PACEChip` after
MSE:Set AT) is held by the chip's session (:class:`~cardlib.chip.session.Session`) and handed in with each
command.  When a run succeeds it hands back an :class:`OpenedSession` (the secure messaging keys and the chip's
identifier for Terminal Authentication).  Failures raise :class:`~cardlib.chip.files.Refused` with the status
word a real chip answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardlib.card.image import ChipSecrets
from cardlib.chip.files import Refused
from cardlib.chip.options import ChipOptions
from cardlib.errors import CardlibError, DecodeError, ProtocolError
from cardlib.lds.securityinfo import CardAccess
from cardlib.lds.tlv import TLV, find, iter_tlvs
from cardlib.model.mrz import MRZ_INFORMATION_TAIL
from cardlib.protocols.apdu import CommandAPDU
from cardlib.protocols.bac import MUTUAL_AUTHENTICATE_LENGTH, BACChip
from cardlib.protocols.pace import PASSWORD_REFERENCES, PACEChip, PACEParameters, PasswordType, offered_parameters
from cardlib.protocols.pace.messages import TAG_DYNAMIC_AUTH, TAG_SET_AT_OID, TAG_SET_AT_PARAMETER, TAG_SET_AT_PASSWORD
from cardlib.protocols.sm import SecureMessaging
from cardlib.protocols.status import (
    SW_AUTH_FAILED,
    SW_REFERENCE_NOT_FOUND,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
)
from cardlib.protocols.ta import id_picc_after_bac, id_picc_after_pace

# MSE:Set AT's password reference (DO83) -> the password it names.
_PASSWORD_TYPES: dict[bytes, PasswordType] = {bytes([number]): kind for kind, number in PASSWORD_REFERENCES.items()}


@dataclass(frozen=True)
class OpenedSession:
    """What a successful BAC or PACE run opens: secure messaging, and ID_PICC for Terminal Authentication."""

    secure_messaging: SecureMessaging
    id_picc: bytes


class AccessControl:
    """BAC and PACE of one chip, outside a session: the runs it starts and the sessions they open."""

    def __init__(self, secrets: ChipSecrets, options: ChipOptions, card_access: bytes | None) -> None:
        self._secrets = secrets
        self._options = options
        self._pace_parameters = _pace_parameters(card_access)

    # -- BAC ------------------------------------------------------------------------------------------

    def bac_run(self) -> BACChip:
        """GET CHALLENGE outside a session on a BAC chip: a BAC run, whose RND.IC MUTUAL AUTHENTICATE needs."""
        return BACChip(self._secrets.mrz_information)

    def check_mutual_authenticate(self, cmd: CommandAPDU) -> None:
        """What MUTUAL AUTHENTICATE earns in plain before the chip looks for a challenge: 6A88 on a chip
        without BAC, 6A86 for P1-P2 other than 0000."""
        if not self._options.bac:
            raise Refused(SW_REFERENCE_NOT_FOUND)
        if cmd.p1 or cmd.p2:
            raise Refused(SW_WRONG_P1P2)

    def mutual_authenticate(self, bac: BACChip, cmd: CommandAPDU) -> tuple[bytes, OpenedSession]:
        """EXTERNAL/MUTUAL AUTHENTICATE of BAC (ICAO 9303-11 §4.3) with the challenge of ``bac``:
        ``bac_wrong_key_sw`` (6300) when the MRZ keys are wrong."""
        if len(cmd.data) != MUTUAL_AUTHENTICATE_LENGTH:
            raise Refused(SW_WRONG_LENGTH)
        try:
            response, session = bac.mutual_authenticate(cmd.data)
        except ProtocolError:
            raise Refused(self._options.bac_wrong_key_sw) from None
        document = self._secrets.mrz_information[:-MRZ_INFORMATION_TAIL]
        return response, OpenedSession(session, id_picc_after_bac(document))

    # -- PACE -----------------------------------------------------------------------------------------

    def pace_set_at(self, cmd: CommandAPDU) -> PACEChip:
        """MSE:Set AT for PACE: the PACE run with the password (MRZ or CAN) and the PACEInfo it names."""
        try:
            objects = list(iter_tlvs(cmd.data, file="MSE:Set AT"))
        except DecodeError:
            raise Refused(SW_WRONG_DATA) from None
        password = find(objects, TAG_SET_AT_PASSWORD)
        if password is None:
            raise Refused(SW_WRONG_DATA)
        password_type = _PASSWORD_TYPES.get(password.value)
        if password_type is None:
            raise Refused(SW_REFERENCE_NOT_FOUND)
        params = self._chosen_pace_parameters(objects)
        secret = self._secrets.mrz_information if password_type == "MRZ" else self._secrets.can
        chip_key = self._secrets.ca_private_key if params.mapping == "CAM" else None
        try:
            chip = PACEChip(secret, password_type, params, chip_key=chip_key)
        except ProtocolError:  # PACE-CAM offered without a Chip Authentication key on its curve
            raise Refused(SW_REFERENCE_NOT_FOUND) from None
        try:
            chip.set_at(cmd.data)
        except ProtocolError:
            raise Refused(SW_WRONG_DATA) from None
        return chip

    def _chosen_pace_parameters(self, objects: list[TLV]) -> PACEParameters:
        """The PACEInfo of EF.CardAccess named by DO80 (protocol) and, if present, DO84 (parameter ID)."""
        mechanism = find(objects, TAG_SET_AT_OID)
        parameter = find(objects, TAG_SET_AT_PARAMETER)
        rule = self._options.mse_do84
        if (parameter is None and rule == "required") or (parameter is not None and rule == "refused"):
            raise Refused(SW_WRONG_DATA)
        for params in self._pace_parameters:
            if mechanism is not None and params.oid_bytes == mechanism.value and (
                    parameter is None or parameter.value == bytes([params.parameter_id])):
                return params
        raise Refused(SW_WRONG_DATA)

    @staticmethod
    def pace_step(pace: PACEChip, cmd: CommandAPDU) -> tuple[bytes, OpenedSession | None]:
        """One GENERAL AUTHENTICATE step of the PACE run ``pace``; a failed step (wrong CAN/MRZ shows at the
        token check) answers 6300.  The opened session comes with the last step."""
        if cmd.data[:1] != bytes([TAG_DYNAMIC_AUTH]):
            raise Refused(SW_WRONG_DATA)
        try:
            response = pace.general_authenticate(cmd.data)
        except CardlibError:
            raise Refused(SW_AUTH_FAILED) from None
        if pace.secure_messaging is None:
            return response, None
        return response, OpenedSession(pace.secure_messaging, id_picc_after_pace(pace.ephemeral_public_key))


def _pace_parameters(card_access: bytes | None) -> tuple[PACEParameters, ...]:
    """The PACE variants EF.CardAccess offers that we implement (every mapping, ECDH and DH); none without it."""
    if card_access is None:
        return ()
    try:
        infos = CardAccess.decode(card_access).pace_infos
    except CardlibError:
        return ()
    return offered_parameters(infos)


__all__ = ["AccessControl", "OpenedSession"]
