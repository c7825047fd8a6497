"""The registry of protocol OIDs: what each SecurityInfo protocol OID means (TR-03110-3 A.1, ICAO 9303-11 §9.2).

One home for the OIDs of PACE, Chip Authentication, Terminal Authentication and Active Authentication and
for the cipher suite, mapping and key agreement each implies.  :mod:`cardlib.lds.securityinfo` decodes
SecurityInfos with it, :mod:`cardlib.protocols.pace` and :mod:`cardlib.protocols.ca` take their cipher suites
from it instead of parsing OID suffixes, and the chip and reader name protocols through :func:`protocol_oid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cardlib.errors import EncodeError

BSI_DE = "0.4.0.127.0.7"
ID_PK = BSI_DE + ".2.2.1"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_PACE = BSI_DE + ".2.2.4"
ID_AA = "2.23.136.1.1.5"
ID_ECDSA_PLAIN = BSI_DE + ".1.1.4.1"


class Family(StrEnum):
    """The families of SecurityInfo protocol OIDs: one SecurityInfo type each (:mod:`cardlib.lds.securityinfo`)."""

    PACE = "PACE"
    PACE_DOMAIN_PARAMETER = "PACEDomainParameter"
    CHIP_AUTHENTICATION = "ChipAuthentication"
    CHIP_AUTHENTICATION_DOMAIN_PARAMETER = "ChipAuthenticationDomainParameter"
    CHIP_AUTHENTICATION_PUBLIC_KEY = "ChipAuthenticationPublicKey"
    TERMINAL_AUTHENTICATION = "TerminalAuthentication"
    ACTIVE_AUTHENTICATION = "ActiveAuthentication"


@dataclass(frozen=True)
class SecurityProtocol:
    """What a SecurityInfo protocol OID means (TR-03110-3 A.1.1.1–A.1.1.3, ICAO 9303-11 §9.2)."""

    oid: str
    name: str
    family: Family
    key_agreement: str | None = None
    mapping: str | None = None
    cipher: str | None = None
    mac: str | None = None

    @property
    def key_length(self) -> int | None:
        """Session key length in bytes (16 for 3DES and AES-128), None when no cipher is implied."""
        return {"3DES": 16, "AES-128": 16, "AES-192": 24, "AES-256": 32}.get(self.cipher or "")


# (suffix, cipher name in the OID name, cipher, MAC): TR-03110-3 Table A.1 / ICAO 9303-11 §9.2.
_CIPHER_SUITES = (
    (1, "3DES-CBC-CBC", "3DES", "CBC"),
    (2, "AES-CBC-CMAC-128", "AES-128", "CMAC"),
    (3, "AES-CBC-CMAC-192", "AES-192", "CMAC"),
    (4, "AES-CBC-CMAC-256", "AES-256", "CMAC"),
)
_PACE_VARIANTS = ((1, "DH", "GM"), (2, "ECDH", "GM"), (3, "DH", "IM"), (4, "ECDH", "IM"), (6, "ECDH", "CAM"))
_KEY_AGREEMENTS = ((1, "DH"), (2, "ECDH"))


def _build_protocols() -> dict[str, SecurityProtocol]:
    table: list[SecurityProtocol] = []
    for number, agreement, mapping in _PACE_VARIANTS:
        base, name = f"{ID_PACE}.{number}", f"id-PACE-{agreement}-{mapping}"
        table.append(SecurityProtocol(base, name, Family.PACE_DOMAIN_PARAMETER, agreement, mapping))
        table += [SecurityProtocol(f"{base}.{suffix}", f"{name}-{label}", Family.PACE, agreement, mapping, cipher, mac)
                  for suffix, label, cipher, mac in _CIPHER_SUITES if not (mapping == "CAM" and cipher == "3DES")]
    for number, agreement in _KEY_AGREEMENTS:
        base, name = f"{ID_CA}.{number}", f"id-CA-{agreement}"
        table.append(SecurityProtocol(base, name, Family.CHIP_AUTHENTICATION_DOMAIN_PARAMETER, agreement))
        table += [SecurityProtocol(f"{base}.{suffix}", f"{name}-{label}", Family.CHIP_AUTHENTICATION, agreement,
                                   cipher=cipher, mac=mac) for suffix, label, cipher, mac in _CIPHER_SUITES]
        table.append(SecurityProtocol(f"{ID_PK}.{number}", f"id-PK-{agreement}", Family.CHIP_AUTHENTICATION_PUBLIC_KEY,
                                      agreement))
    table.append(SecurityProtocol(ID_TA, "id-TA", Family.TERMINAL_AUTHENTICATION))
    table.append(SecurityProtocol(ID_AA, "id-AA", Family.ACTIVE_AUTHENTICATION))
    return {protocol.oid: protocol for protocol in table}


PROTOCOLS: dict[str, SecurityProtocol] = _build_protocols()
PROTOCOL_OIDS: dict[str, str] = {protocol.name: oid for oid, protocol in PROTOCOLS.items()}
# id-CA-ECDH-3DES-CBC-CBC: the protocol implied when neither DG14 nor EF.CardAccess has a ChipAuthenticationInfo
# (EAC 1.11 chips); the chip and the reader assume the same.
IMPLIED_CA_PROTOCOL = PROTOCOL_OIDS["id-CA-ECDH-3DES-CBC-CBC"]

# --- Terminal Authentication: CV certificate signature algorithms and terminal types (TR-03110-3 A.2.1.1, C.4) ---

ID_TA_RSA = ID_TA + ".1"
ID_TA_ECDSA = ID_TA + ".2"
# id-TA signature algorithm OID -> hash name, per scheme (Table D.3; ECDSA signatures are plain r‖s).
TA_RSA_PKCS1_HASHES: dict[str, str] = {f"{ID_TA_RSA}.1": "sha1", f"{ID_TA_RSA}.2": "sha256", f"{ID_TA_RSA}.5": "sha512"}
TA_RSA_PSS_HASHES: dict[str, str] = {f"{ID_TA_RSA}.3": "sha1", f"{ID_TA_RSA}.4": "sha256", f"{ID_TA_RSA}.6": "sha512"}
TA_ECDSA_HASHES: dict[str, str] = {
    f"{ID_TA_ECDSA}.1": "sha1", f"{ID_TA_ECDSA}.2": "sha224", f"{ID_TA_ECDSA}.3": "sha256",
    f"{ID_TA_ECDSA}.4": "sha384", f"{ID_TA_ECDSA}.5": "sha512",
}
ID_IS = BSI_DE + ".3.1.2.1"  # id-IS under id-roles: the CHAT of an inspection system (the only terminal type used)

# --- content types (ICAO 9303-10 §4.6.2, BSI TR-03110-3 A.1.2.5, RFC 5652) and ICAO PKI ----------------------

ID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
ID_LDS_SECURITY_OBJECT_LEGACY = "1.3.27.1.1.1"  # pre-standard eContentType some early SODs carry
ID_SECURITY_OBJECT = BSI_DE + ".3.2.1"  # the eContentType of EF.CardSecurity
ID_DATA = "1.2.840.113549.1.7.1"  # RFC 5652 id-data: some states wrap their LDSSecurityObject in it
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_TIME = "1.2.840.113549.1.9.5"
# ICAO 9303-12 PKI: the Master List's eContentType and the Master List Signer's extended key usage.
ID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
ID_MASTER_LIST_SIGNER = "2.23.136.1.1.3"
# X.509 extensions (RFC 5280 id-ce) ICAO 9303-12 requires of CSCA and Document Signer certificates.
ID_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
ID_KEY_USAGE = "2.5.29.15"
ID_BASIC_CONSTRAINTS = "2.5.29.19"
ID_CRL_DISTRIBUTION_POINTS = "2.5.29.31"
ID_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
ID_EXTENDED_KEY_USAGE = "2.5.29.37"
# The X.509 PrivateKeyUsagePeriod extension (RFC 5280 id-ce 16) ICAO 9303-12 puts in CSCA and DS certificates.
ID_PRIVATE_KEY_USAGE_PERIOD = "2.5.29.16"
ID_DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"  # ICAO 9303-12: the document types a Document Signer may sign
ID_ISO10646_UTF8 = "1.0.10646.1.0.8"  # the character set DG13 declares (ISO/IEC 10646, UTF-8)
# AlgorithmIdentifier {id-standardizedDomainParameters, INTEGER id} of TR-03110-3 A.2.1.1 (13 = brainpoolP256r1).
ID_STANDARDIZED_DOMAIN_PARAMETERS = BSI_DE + ".1.2"

# --- keys, hashes and signatures (RFC 5480, NIST CSOR, ANSI X9.62, PKCS #1, BSI TR-03111 §5.2.1) -------------

ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
ID_ECDSA_SIG_TYPE = "1.2.840.10045.4"  # ecdsa-with-Recommended/Specified arc: the hash comes from elsewhere
ID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
ID_RSASSA_PSS = "1.2.840.113549.1.1.10"

DIGEST_OIDS: dict[str, str] = {
    "sha1": "1.3.14.3.2.26", "sha224": "2.16.840.1.101.3.4.2.4", "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2", "sha512": "2.16.840.1.101.3.4.2.3",
}
"""Hash name -> digest AlgorithmIdentifier OID."""
DIGEST_NAMES: dict[str, str] = {oid: name for name, oid in DIGEST_OIDS.items()}

# Signature algorithm OID -> hash name, per scheme.
ECDSA_DER_HASHES: dict[str, str] = {
    "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.1": "sha224", "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
}
ECDSA_PLAIN_HASHES: dict[str, str] = {  # r‖s, each the byte length of the group order
    f"{ID_ECDSA_PLAIN}.1": "sha1", f"{ID_ECDSA_PLAIN}.2": "sha224", f"{ID_ECDSA_PLAIN}.3": "sha256",
    f"{ID_ECDSA_PLAIN}.4": "sha384", f"{ID_ECDSA_PLAIN}.5": "sha512",
}
RSA_PKCS1_HASHES: dict[str, str] = {
    "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.14": "sha224", "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
}

# Signature algorithms of ActiveAuthenticationInfo: BSI TR-03111 §5.2.1 (plain) and ANSI X9.62 (DER).
SIGNATURE_ALGORITHMS: dict[str, str] = {
    **{oid: f"ecdsa-plain-{name.upper()}" for oid, name in ECDSA_PLAIN_HASHES.items()},
    f"{ID_ECDSA_PLAIN}.6": "ecdsa-plain-RIPEMD160",
    **{oid: f"ecdsa-with-{name.upper()}" for oid, name in ECDSA_DER_HASHES.items()},
}
SIGNATURE_ALGORITHM_OIDS: dict[str, str] = {name: oid for oid, name in SIGNATURE_ALGORITHMS.items()}


def signature_oid(table: dict[str, str], hash_name: str) -> str | None:
    """The OID of ``table`` (e.g. :data:`ECDSA_DER_HASHES`) whose hash is ``hash_name``; None if it has none."""
    return next((oid for oid, name in table.items() if name == hash_name), None)


def protocol_oid(name: str) -> str:
    """The OID of a protocol by its TR-03110 name (``"id-PACE-ECDH-GM-AES-CBC-CMAC-128"``)."""
    try:
        return PROTOCOL_OIDS[name]
    except KeyError:
        raise EncodeError(f"unknown security protocol {name!r}") from None


def protocol_of(oid: str, family: str) -> SecurityProtocol | None:
    """The meaning of ``oid`` when it is a protocol of ``family`` (a :class:`Family`, or its value: ``"PACE"``)."""
    known = PROTOCOLS.get(oid)
    return known if known is not None and known.family == family else None
