"""The OID registry (cardlib.lds.oids) against the standards' tables, and the protocol layers that read it."""

from __future__ import annotations

import pytest

from cardlib.errors import EncodeError, ProtocolError
from cardlib.lds.oids import (
    DIGEST_NAMES,
    DIGEST_OIDS,
    ECDSA_DER_HASHES,
    ECDSA_PLAIN_HASHES,
    ID_IS,
    IMPLIED_CA_PROTOCOL,
    PROTOCOL_OIDS,
    PROTOCOLS,
    RSA_PKCS1_HASHES,
    SIGNATURE_ALGORITHM_OIDS,
    SIGNATURE_ALGORITHMS,
    TA_ECDSA_HASHES,
    TA_RSA_PKCS1_HASHES,
    TA_RSA_PSS_HASHES,
    protocol_of,
    protocol_oid,
    signature_oid,
)
from cardlib.protocols.ca import ca_suite
from cardlib.protocols.pace import PACEParameters

# TR-03110-3 Table A.1 / ICAO 9303-11 §9.2: the CA protocols and their (cipher, key bits), written out.
CA_SUITES = {
    "0.4.0.127.0.7.2.2.3.1.1": ("3DES", 112), "0.4.0.127.0.7.2.2.3.1.2": ("AES", 128),
    "0.4.0.127.0.7.2.2.3.1.3": ("AES", 192), "0.4.0.127.0.7.2.2.3.1.4": ("AES", 256),
    "0.4.0.127.0.7.2.2.3.2.1": ("3DES", 112), "0.4.0.127.0.7.2.2.3.2.2": ("AES", 128),
    "0.4.0.127.0.7.2.2.3.2.3": ("AES", 192), "0.4.0.127.0.7.2.2.3.2.4": ("AES", 256),
}


def test_names_and_oids_are_one_to_one() -> None:
    assert len(PROTOCOL_OIDS) == len(PROTOCOLS)
    assert all(PROTOCOLS[oid].name == name for name, oid in PROTOCOL_OIDS.items())
    assert len(SIGNATURE_ALGORITHM_OIDS) == len(SIGNATURE_ALGORITHMS)
    assert {oid: name for name, oid in DIGEST_OIDS.items()} == DIGEST_NAMES


def test_known_protocols_have_their_standard_oids() -> None:
    assert protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128") == "0.4.0.127.0.7.2.2.4.2.2"
    assert protocol_oid("id-PACE-ECDH-CAM-AES-CBC-CMAC-256") == "0.4.0.127.0.7.2.2.4.6.4"
    assert protocol_oid("id-PK-ECDH") == "0.4.0.127.0.7.2.2.1.2"
    assert protocol_oid("id-AA") == "2.23.136.1.1.5"
    assert IMPLIED_CA_PROTOCOL == "0.4.0.127.0.7.2.2.3.2.1"
    with pytest.raises(EncodeError, match="id-PACE-ECDH-CAM-3DES-CBC-CBC"):
        protocol_oid("id-PACE-ECDH-CAM-3DES-CBC-CBC")  # CAM has no 3DES suite


@pytest.mark.parametrize(("oid", "suite"), CA_SUITES.items())
def test_ca_suite_comes_from_the_registry(oid: str, suite: tuple[str, int]) -> None:
    assert ca_suite(oid) == suite
    known = protocol_of(oid, "ChipAuthentication")
    assert known is not None and known.key_agreement == ("DH" if oid.split(".")[-2] == "1" else "ECDH")


@pytest.mark.parametrize("oid", ["0.4.0.127.0.7.2.2.3.2.5", "0.4.0.127.0.7.2.2.3.2", "0.4.0.127.0.7.2.2.4.2.2",
                                 "0.4.0.127.0.7.2.2.3.3.1"])
def test_ca_suite_refuses_what_is_not_a_ca_protocol(oid: str) -> None:
    with pytest.raises(ProtocolError, match="not supported"):
        ca_suite(oid)


def test_pace_parameters_take_their_suite_from_the_registry() -> None:
    params = PACEParameters(protocol_oid("id-PACE-ECDH-IM-AES-CBC-CMAC-192"), 13)
    assert (params.algorithm.key_agreement, params.algorithm.mapping) == ("ECDH", "IM")
    assert (params.algorithm.cipher, params.algorithm.key_length) == ("AES-192", 24)
    with pytest.raises(ProtocolError):
        PACEParameters(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 13)


def test_signature_tables_agree_with_the_named_algorithms() -> None:
    for table, prefix in ((ECDSA_DER_HASHES, "ecdsa-with-"), (ECDSA_PLAIN_HASHES, "ecdsa-plain-")):
        for oid, hash_name in table.items():
            assert SIGNATURE_ALGORITHMS[oid] == prefix + hash_name.upper()
            assert signature_oid(table, hash_name) == oid
    assert signature_oid(RSA_PKCS1_HASHES, "sha256") == "1.2.840.113549.1.1.11"
    assert signature_oid(ECDSA_DER_HASHES, "md5") is None


def test_terminal_authentication_oids_are_the_standard_ones() -> None:
    # BSI TR-03110-3 A.2.1.1: id-TA-RSA-v1-5-SHA-1 … id-TA-RSA-PSS-SHA-512, id-TA-ECDSA-SHA-1 … -SHA-512; C.4: id-IS.
    ta = "0.4.0.127.0.7.2.2.2"
    written_out = {
        f"{ta}.1.1": ("pkcs1", "sha1"), f"{ta}.1.2": ("pkcs1", "sha256"), f"{ta}.1.3": ("pss", "sha1"),
        f"{ta}.1.4": ("pss", "sha256"), f"{ta}.1.5": ("pkcs1", "sha512"), f"{ta}.1.6": ("pss", "sha512"),
        f"{ta}.2.1": ("ecdsa", "sha1"), f"{ta}.2.2": ("ecdsa", "sha224"), f"{ta}.2.3": ("ecdsa", "sha256"),
        f"{ta}.2.4": ("ecdsa", "sha384"), f"{ta}.2.5": ("ecdsa", "sha512"),
    }
    tables = {"pkcs1": TA_RSA_PKCS1_HASHES, "pss": TA_RSA_PSS_HASHES, "ecdsa": TA_ECDSA_HASHES}
    registered = {oid: (scheme, hash_name) for scheme, table in tables.items() for oid, hash_name in table.items()}
    assert registered == written_out
    assert signature_oid(TA_ECDSA_HASHES, "sha256") == f"{ta}.2.3"
    assert ID_IS == "0.4.0.127.0.7.3.1.2.1"
