"""X.509 names as eMRTD PKIs compare them: a readable one-line form, a lookup key, RFC 5280 §7.1 equality.

Each is cached by the name's exact DER: thousands of Document Signer certificates name the same few CSCAs.
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import x509 as asn1_x509

NameKey = tuple[tuple[tuple[str, str], ...], ...]
"""A name reduced for lookup: per RDN, its (attribute type, case-folded value with spaces collapsed) pairs sorted."""


def readable_name(name: asn1_x509.Name) -> str:
    """An RFC 4514-like one-line form ("C=VN, O=…, CN=…"), in the order the certificate lists it."""
    return _name_forms(name.dump())[0]


def name_key(name: asn1_x509.Name) -> NameKey:
    """The lookup key of ``name``: names equal under RFC 5280 §7.1 have equal keys in all but exotic cases
    (characters string preparation maps away), so a key finds the candidates and ``==`` confirms them."""
    return _name_forms(name.dump())[1]


@lru_cache(maxsize=1024)
def _name_forms(der: bytes) -> tuple[str, NameKey]:
    """:func:`readable_name` and :func:`name_key` of a DER Name, from one parse and cached: a self-signed CSCA's
    subject is its issuer, and thousands of Document Signer certificates name the same few CSCAs."""
    name = asn1_x509.Name.load(der)
    parts = []
    key = []
    for rdn in name.chosen:
        pairs = []
        for attribute in rdn:
            kind, value = attribute["type"].native, attribute["value"].native
            parts.append(f"{_SHORT_NAMES.get(kind, kind)}={value}")
            pairs.append((attribute["type"].dotted, " ".join(str(value).casefold().split())))
        key.append(tuple(sorted(pairs)))
    return ", ".join(parts), tuple(key)


_SHORT_NAMES = {
    "country_name": "C", "organization_name": "O", "organizational_unit_name": "OU", "common_name": "CN",
    "serial_number": "SERIALNUMBER", "locality_name": "L", "state_or_province_name": "ST",
}


def names_equal(first: asn1_x509.Name, second: asn1_x509.Name) -> bool:
    """Whether two names are equal as RFC 5280 §7.1 compares them (asn1crypto's comparison), cached by their
    exact DER: the comparison prepares every string again each time, and a batch compares the same few names."""
    return _names_equal(first.dump(), second.dump())


@lru_cache(maxsize=1024)
def _names_equal(first: bytes, second: bytes) -> bool:
    return bool(asn1_x509.Name.load(first) == asn1_x509.Name.load(second))


__all__ = ["NameKey", "name_key", "names_equal", "readable_name"]
