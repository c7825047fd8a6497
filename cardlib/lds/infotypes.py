"""How a SecurityInfo type is declared (TR-03110-3 A.1, ICAO 9303-11 §9.2): its protocol family and its fields.

Every SecurityInfo is ``SEQUENCE { protocol OBJECT IDENTIFIER, ... }``.  A type of :mod:`cardlib.lds.securityinfo`
is a frozen dataclass deriving from :class:`DeclaredInfo` that names the ``family`` of protocol OIDs it holds (whose
meaning the registry :mod:`cardlib.lds.oids` gives) and lists the elements after the OID in asn1crypto's
``_fields`` syntax, each one the dataclass attribute of the same name: PACEInfo is ``family = Family.PACE`` and
``_fields = (("version", core.Integer), ("parameter_id", core.Integer, OPTIONAL))`` over the attributes
``protocol``, ``version`` and ``parameter_id``.  :class:`DeclaredInfo` gives every such type its one encode and
decode, so a new SecurityInfo type is a declaration; the Python value of each ASN.1 type is set once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple, Self

from asn1crypto import core

from cardlib.errors import EncodeError
from cardlib.lds.asn1 import AlgorithmIdentifier, decoding, load_strict, sequence_type
from cardlib.lds.domainparams import DomainParameter
from cardlib.lds.oids import Family, SecurityProtocol, protocol_of

OPTIONAL = {"optional": True}
"""The options of an element a SecurityInfo may leave out (absent: the attribute is None)."""

FileID = sequence_type("FileID", [("fid", core.OctetString), ("sfid", core.OctetString, OPTIONAL)])
"""TerminalAuthenticationInfo's efCVCA (TR-03110-3):
``FileID ::= SEQUENCE { fid OCTET STRING (SIZE(2)), sfid OCTET STRING (SIZE(1)) OPTIONAL }``."""


def dump(value: core.Asn1Value) -> bytes:
    """The DER of an asn1crypto value, typed."""
    encoded: bytes = value.dump()
    return encoded


class _Codec(NamedTuple):
    """How a decoded ASN.1 element becomes an attribute (``load``) and an attribute a value asn1crypto encodes
    (``dump``)."""

    load: Callable[[Any], Any]
    dump: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


# The ASN.1 types the fields of SecurityInfos use, and the Python value each one is.
_CODECS: dict[type, _Codec] = {
    core.Integer: _Codec(lambda value: value.native, _same),
    core.ObjectIdentifier: _Codec(lambda value: value.dotted, _same),
    AlgorithmIdentifier: _Codec(DomainParameter.from_asn1, lambda domain: AlgorithmIdentifier.load(domain.encode())),
    FileID: _Codec(dump, FileID.load),  # kept as its DER, written back unchanged
}


class FamilyInfo:
    """What every typed SecurityInfo shares: a protocol OID of one family, whose meaning the registry gives."""

    family: ClassVar[Family]
    protocol: str

    @property
    def algorithm(self) -> SecurityProtocol:
        """The meaning of :attr:`protocol` (key agreement, mapping, cipher, MAC), from :mod:`cardlib.lds.oids`;
        :class:`EncodeError` when the OID is not one of :attr:`family` (nothing to encode it as)."""
        known = protocol_of(self.protocol, self.family)
        if known is None:
            raise EncodeError(f"{self.protocol} is not a {self.family} protocol OID")
        return known


class DeclaredInfo(FamilyInfo):
    """A SecurityInfo declared by its fields: ``SEQUENCE { protocol OBJECT IDENTIFIER, *_fields }``.

    ``_fields`` lists the elements after the protocol OID in asn1crypto's syntax; each is the dataclass
    attribute of the same name (None when an optional element is absent).  A type that sets ``protocol`` to its
    family's one OID keeps it as a class constant, not a field.
    """

    _fields: ClassVar[tuple[tuple[Any, ...], ...]]
    _spec: ClassVar[Any]
    _protocol_is_field: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._spec = sequence_type(cls.__name__, [("protocol", core.ObjectIdentifier), *cls._fields])
        cls._protocol_is_field = not isinstance(cls.__dict__.get("protocol"), str)

    def encode(self) -> bytes:
        """The SecurityInfo DER."""
        value: dict[str, Any] = {"protocol": self.algorithm.oid}
        for name, spec, *_ in self._fields:
            attribute = getattr(self, name)
            if attribute is not None:
                value[name] = _CODECS[spec].dump(attribute)
        return dump(self._spec(value))

    @classmethod
    def decode(cls, der: bytes, *, file: str) -> Self:
        """One SecurityInfo of this type, whose protocol OID the caller has found to be of :attr:`family`."""
        value = load_strict(cls._spec, der, file=file, field=cls.__name__)
        attributes: dict[str, Any] = {"protocol": value["protocol"].dotted} if cls._protocol_is_field else {}
        with decoding(file, cls.__name__):
            for name, spec, *_ in cls._fields:
                element = value[name]
                attributes[name] = None if isinstance(element, core.Void) else _CODECS[spec].load(element)
        return cls(**attributes)


__all__ = ["OPTIONAL", "DeclaredInfo", "FamilyInfo", "FileID", "dump"]
