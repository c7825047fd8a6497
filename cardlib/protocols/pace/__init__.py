"""PACE (ICAO 9303-11 §4.4): the protocol for both ends in :mod:`.protocol`, the group arithmetic in
:mod:`.groups`, the integrated mapping in :mod:`.integrated` and the chip authentication mapping in :mod:`.cam`.
The public names stay importable from ``cardlib.protocols.pace``."""

from cardlib.protocols.pace.protocol import (
    ID_PACE_ECDH_GM,
    PASSWORD_REFERENCES,
    Mapping,
    PACEChip,
    PACEParameters,
    PACETerminal,
    PasswordType,
    authentication_token,
    password_key,
)

__all__ = [
    "ID_PACE_ECDH_GM",
    "PASSWORD_REFERENCES",
    "Mapping",
    "PACEChip",
    "PACEParameters",
    "PACETerminal",
    "PasswordType",
    "authentication_token",
    "password_key",
]
