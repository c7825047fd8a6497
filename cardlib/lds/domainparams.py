"""Domain parameters of PACE and Chip Authentication: an AlgorithmIdentifier naming a curve or group.

TR-03110-3 A.2.1: standardized (``id-standardizedDomainParameters`` with an ID, Table A.5) or explicit
(``id-ecPublicKey`` with ECParameters, or DH).  :class:`DomainParameter` keeps the bytes as read and resolves
the named curve they denote, for the PACE and Chip Authentication infos of :mod:`cardlib.lds.securityinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, keys

from cardlib import curves
from cardlib.curves import Curve
from cardlib.errors import DecodeError, PKIError
from cardlib.lds.asn1 import curve_from_ec_parameters, oid_der
from cardlib.lds.oids import ID_EC_PUBLIC_KEY, ID_STANDARDIZED_DOMAIN_PARAMETERS
from cardlib.lds.tlv import encode_tlv


@dataclass(frozen=True)
class DomainParameter:
    """An AlgorithmIdentifier naming domain parameters: standardized (by ID) or explicit (ECParameters/DH)."""

    algorithm: str
    parameters: bytes | None = None

    @classmethod
    def standardized(cls, parameter_id: int) -> DomainParameter:
        """Standardized domain parameters ``parameter_id`` (TR-03110-3 Table A.5: 13 = brainpoolP256r1)."""
        return cls(ID_STANDARDIZED_DOMAIN_PARAMETERS, core.Integer(parameter_id).dump())

    @property
    def curve(self) -> Curve | None:
        """The named curve these parameters denote; None for DH groups, unknown IDs or unknown curves."""
        try:
            return _resolve_curve(self.algorithm, self.parameters)
        except (DecodeError, PKIError, ValueError, TypeError):
            return None

    def encode(self) -> bytes:
        """The AlgorithmIdentifier DER."""
        return encode_tlv(0x30, oid_der(self.algorithm) + (self.parameters or b""))

    @classmethod
    def from_asn1(cls, value: core.Sequence) -> DomainParameter:
        """The parameters of a decoded AlgorithmIdentifier; malformed ones raise (a decode error, not a None)."""
        algorithm = value["algorithm"].dotted
        parameters = None if isinstance(value["parameters"], core.Void) else value["parameters"].dump()
        _resolve_curve(algorithm, parameters)  # malformed parameters are a decode error, not a silent None
        return cls(algorithm, parameters)


def curve_for_parameter_id(parameter_id: int) -> Curve | None:
    """The standardized curve of ``parameter_id`` (TR-03110-3 Table A.5), None for DH groups or unknown IDs."""
    try:
        return curves.by_parameter_id(parameter_id)
    except PKIError:
        return None


def _resolve_curve(algorithm: str, parameters: bytes | None) -> Curve | None:
    if parameters is None:
        return None
    if algorithm == ID_STANDARDIZED_DOMAIN_PARAMETERS:
        return curve_for_parameter_id(core.Integer.load(parameters, strict=True).native)
    if algorithm == ID_EC_PUBLIC_KEY:
        return curve_from_ec_parameters(keys.ECDomainParameters.load(parameters, strict=True))
    return None


__all__ = ["DomainParameter", "curve_for_parameter_id"]
