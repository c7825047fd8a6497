"""PACE (ICAO 9303-11 §4.4): the protocol for both ends in :mod:`.protocol`, its parameters and password in
:mod:`.parameters`, its messages in :mod:`.messages`, what both ends compute in :mod:`.exchange`, the group
arithmetic in :mod:`.groups`, the integrated mapping in :mod:`.integrated` and the chip authentication mapping in
:mod:`.cam`.  The public names stay importable from ``cardlib.protocols.pace``."""

from cardlib.protocols.pace.messages import authentication_token
from cardlib.protocols.pace.parameters import (
    PASSWORD_REFERENCES,
    Mapping,
    PACEParameters,
    PasswordType,
    offered_parameters,
    password_key,
)
from cardlib.protocols.pace.protocol import PACEChip, PACETerminal

__all__ = [
    "PASSWORD_REFERENCES",
    "Mapping",
    "PACEChip",
    "PACEParameters",
    "PACETerminal",
    "PasswordType",
    "authentication_token",
    "offered_parameters",
    "password_key",
]
