"""SecurityInfos, EF.CardAccess and DG14: ICAO G.1 vector, BSI 2008 DG14, JMRTD EF.CardSecurity, CCCD profile."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from cardlib.curves import by_name
from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.asn1 import ECPublicKeyInfo
from cardlib.lds.domainparams import DomainParameter
from cardlib.lds.oids import PROTOCOLS, Family, protocol_oid
from cardlib.lds.securityinfo import (
    DG14,
    ActiveAuthenticationInfo,
    CardAccess,
    ChipAuthenticationDomainParameterInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEDomainParameterInfo,
    PACEInfo,
    SecurityInfo,
    SecurityInfos,
    TerminalAuthenticationInfo,
    UnknownSecurityInfo,
    decode_security_info,
)
from cardlib.lds.tlv import encode_tlv

# ICAO 9303-11 App. G.1 (PACE ECDH-GM worked example): EF.CardAccess.
ICAO_G1_CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")
CA_KEY = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()


def test_icao_g1_card_access() -> None:
    access = CardAccess.decode(ICAO_G1_CARD_ACCESS)
    assert access.infos == (PACEInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13),)
    pace = access.pace_infos[0]
    assert pace.algorithm.name == "id-PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert (pace.algorithm.key_agreement, pace.algorithm.mapping, pace.algorithm.cipher, pace.algorithm.mac) == (
        "ECDH", "GM", "AES-128", "CMAC")
    assert pace.algorithm.key_length == 16
    assert pace.curve == by_name("brainpoolP256r1")
    assert access.encode() == ICAO_G1_CARD_ACCESS


def test_bsi_2008_dg14_byte_identical(shared_data: Path) -> None:
    raw = (shared_data / "bsi2008/Datagroup14.bin").read_bytes()
    dg14 = DG14.decode(raw)
    assert dg14.encode() == raw
    (key_info,) = dg14.chip_authentication_public_key_infos
    assert key_info.algorithm.name == "id-PK-ECDH"
    key = key_info.public_key
    assert isinstance(key, ECPublicKeyInfo)
    assert key.curve.name == "brainpoolP224r1"
    assert key.explicit_parameters
    assert key.point.hex().startswith("043674ac25")
    assert key.cryptography_key() is None  # cryptography has no brainpoolP224r1: curve + point are what we keep
    (ca,) = dg14.chip_authentication_infos
    assert ca.algorithm.name == "id-CA-ECDH-3DES-CBC-CBC"
    assert ca.version == 1
    assert dg14.terminal_authentication_infos == (TerminalAuthenticationInfo(1),)


def test_jmrtd_card_security_content_round_trips(shared_data: Path) -> None:
    signed = cms.ContentInfo.load((shared_data / "cardsecurity/efcardsecurity.dump").read_bytes())
    content = signed["content"]["encap_content_info"]["content"].contents
    infos = SecurityInfos.decode(content)
    assert infos.encode() == content
    assert infos.terminal_authentication_infos == (TerminalAuthenticationInfo(2),)
    assert infos.chip_authentication_infos[0].algorithm.name == "id-CA-ECDH-AES-CBC-CMAC-128"
    (domain,) = infos.of_type(ChipAuthenticationDomainParameterInfo)
    assert domain.domain_parameter.curve == by_name("brainpoolP256r1")
    (key_info,) = infos.chip_authentication_public_key_infos
    assert key_info.inline_key
    assert isinstance(key_info.public_key, ECPublicKeyInfo)
    assert key_info.public_key.cryptography_key() is not None


def cccd_card_access() -> CardAccess:
    """EF.CardAccess as read from a CCCD (shared docs, "Access control and chip security")."""
    return CardAccess((
        PACEInfo(protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128"), 2, 13),
        ChipAuthenticationInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 1),
        TerminalAuthenticationInfo(1),
    ))


def test_cccd_card_access_round_trips() -> None:
    access = cccd_card_access()
    assert CardAccess.decode(access.encode()) == access
    assert access.pace_infos[0].protocol == "0.4.0.127.0.7.2.2.4.2.2"
    assert access.chip_authentication_infos[0].protocol == "0.4.0.127.0.7.2.2.3.2.2"


@pytest.mark.parametrize("explicit", [False, True])
def test_cccd_dg14_round_trips(explicit: bool) -> None:
    dg14 = DG14((
        ChipAuthenticationPublicKeyInfo.for_key(CA_KEY, explicit_parameters=explicit),
        ChipAuthenticationInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 1),
        PACEInfo(protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128"), 2, 13),
        ActiveAuthenticationInfo(1, "0.4.0.127.0.7.1.1.4.1.3"),
    ))
    raw = dg14.encode()
    assert raw[0] == 0x6E
    decoded = DG14.decode(raw)
    assert decoded == dg14
    key = decoded.chip_authentication_public_key_infos[0].public_key
    assert isinstance(key, ECPublicKeyInfo)
    assert key.cryptography_key() == CA_KEY
    assert decoded.active_authentication_infos[0].signature_algorithm_name == "ecdsa-plain-SHA256"


def test_domain_parameter_infos_round_trip() -> None:
    infos = SecurityInfos((
        PACEDomainParameterInfo(protocol_oid("id-PACE-ECDH-GM"), DomainParameter.standardized(13), 7),
        ChipAuthenticationDomainParameterInfo(protocol_oid("id-CA-ECDH"), DomainParameter.standardized(16)),
    ))
    decoded = SecurityInfos.decode(infos.encode())
    assert decoded == infos
    assert decoded.pace_domain_parameter_infos[0].domain_parameter.curve == by_name("brainpoolP256r1")
    assert decoded.chip_authentication_domain_parameter_infos[0].domain_parameter.curve == by_name("brainpoolP384r1")
    assert DomainParameter.standardized(2).curve is None  # a MODP group, not a curve


def test_unknown_security_info_kept_raw() -> None:
    unknown = bytes.fromhex("300A0603550403040361 6263".replace(" ", ""))  # OID 2.5.4.3 + OCTET STRING
    infos = SecurityInfos.decode(encode_tlv(0x31, unknown + ICAO_G1_CARD_ACCESS[2:]))
    assert infos.unknown_infos == (UnknownSecurityInfo("2.5.4.3", unknown),)
    assert infos.encode()[2:].startswith(unknown)


def test_oid_table_names() -> None:
    assert PROTOCOLS["0.4.0.127.0.7.2.2.4.6.4"].name == "id-PACE-ECDH-CAM-AES-CBC-CMAC-256"
    assert PROTOCOLS["0.4.0.127.0.7.2.2.4.3.1"].mapping == "IM"
    assert PROTOCOLS["0.4.0.127.0.7.2.2.3.1.1"].name == "id-CA-DH-3DES-CBC-CBC"
    assert PROTOCOLS["0.4.0.127.0.7.2.2.1.1"].name == "id-PK-DH"
    assert "0.4.0.127.0.7.2.2.4.6.1" not in PROTOCOLS  # no 3DES with Chip Authentication Mapping
    with pytest.raises(EncodeError):
        protocol_oid("id-PACE-ECDH-XX")


INFO_TYPES = (PACEInfo, PACEDomainParameterInfo, ChipAuthenticationInfo, ChipAuthenticationDomainParameterInfo,
              ChipAuthenticationPublicKeyInfo, TerminalAuthenticationInfo, ActiveAuthenticationInfo)


def test_one_info_type_per_protocol_family() -> None:
    assert sorted(info.family for info in INFO_TYPES) == sorted(Family)
    assert {protocol.family for protocol in PROTOCOLS.values()} == set(Family)


def test_declared_fields_encode_as_tr_03110_writes_them() -> None:
    """Every field kind of the declarations (INTEGER, OID, AlgorithmIdentifier, FileID), optional ones present and
    absent, against DER written out by hand from TR-03110-3 A.1.1."""
    expected = {
        TerminalAuthenticationInfo(2, bytes.fromhex("30070402011C040101")):  # EF.CVCA: FileID {fid 011C, sfid 01}
            "3016 060804007F0007020202 020102 30070402011C040101",
        TerminalAuthenticationInfo(1): "300D 060804007F0007020202 020101",
        ChipAuthenticationInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-256"), 2, 3):
            "3012 060A04007F00070202030204 020102 020103",
        PACEDomainParameterInfo(protocol_oid("id-PACE-ECDH-IM"), DomainParameter.standardized(12)):
            "3019 060904007F000702020404 300C060704007F0007010202010C",
        ActiveAuthenticationInfo(1, "1.2.840.10045.4.3.3"): "3015 0606678108010105 020101 06082A8648CE3D040303",
    }
    for info, der in expected.items():
        assert info.encode() == bytes.fromhex(der)
        assert decode_security_info(bytes.fromhex(der), file="test") == info


def test_encode_rejects_wrong_family() -> None:
    with pytest.raises(EncodeError, match="not a PACE protocol"):
        PACEInfo(protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128"), 2, 13).encode()


@pytest.mark.parametrize(("data", "offset"), [
    (bytes.fromhex("31143012060A04007F0007020204020202010202010D")[:-1], 0),  # SET length lies
    (bytes.fromhex("30143012060A04007F0007020204020202010202010D"), 0),       # SEQUENCE, not SET
    (bytes.fromhex("31143012060A04007F00070202040202020101040101"), 2),       # parameterId not INTEGER
    (bytes.fromhex("3105300302010D"), 2),                                      # no protocol OID
])
def test_malformed_card_access_names_file_and_offset(data: bytes, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        CardAccess.decode(data)
    assert info.value.file == "EF.CardAccess"
    assert info.value.offset == offset


def test_dg14_offsets_count_the_outer_tag(shared_data: Path) -> None:
    raw = bytearray((shared_data / "bsi2008/Datagroup14.bin").read_bytes())
    raw[-13] = 0x04  # the last info (TerminalAuthenticationInfo, 15 bytes) now starts with an OCTET STRING
    with pytest.raises(DecodeError) as info:
        DG14.decode(bytes(raw))
    assert info.value.file == "DG14"
    assert info.value.offset == len(raw) - 15


pace_oids = st.sampled_from([oid for oid, p in PROTOCOLS.items() if p.family == "PACE"])
ca_oids = st.sampled_from([oid for oid, p in PROTOCOLS.items() if p.family == "ChipAuthentication"])
optional_small = st.none() | st.integers(0, 300)
infos_strategy: st.SearchStrategy[SecurityInfo] = st.one_of(
    st.builds(PACEInfo, pace_oids, st.integers(1, 2), optional_small),
    st.builds(ChipAuthenticationInfo, ca_oids, st.integers(1, 3), optional_small),
    st.builds(TerminalAuthenticationInfo, st.integers(1, 2)),
    st.builds(ActiveAuthenticationInfo, st.just(1),
              st.sampled_from(["0.4.0.127.0.7.1.1.4.1.3", "1.2.840.10045.4.3.2"])),
)


@settings(max_examples=100)
@given(st.lists(infos_strategy, max_size=6))
def test_round_trip_card_access_and_dg14(infos: list[SecurityInfo]) -> None:
    assert CardAccess.decode(CardAccess(tuple(infos)).encode()) == CardAccess(tuple(infos))
    assert DG14.decode(DG14(tuple(infos)).encode()) == DG14(tuple(infos))


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        CardAccess.decode(data)
    with contextlib.suppress(DecodeError):
        DG14.decode(encode_tlv(0x6E, data))
    with contextlib.suppress(DecodeError):
        CardAccess.decode(encode_tlv(0x31, encode_tlv(0x30, bytes.fromhex("060A04007F00070202040202") + data)))


@settings(max_examples=150)
@given(st.data())
def test_truncated_or_corrupted_dg14_raises_only_decode_error(data: st.DataObject) -> None:
    raw = DG14((ChipAuthenticationPublicKeyInfo.for_key(CA_KEY, explicit_parameters=True),
                *cccd_card_access().infos)).encode()
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(DecodeError):
        DG14.decode(raw[:cut])
    flipped = bytearray(raw)
    flipped[cut] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):
        DG14.decode(bytes(flipped))
