"""Terminal Authentication v1, terminal and chip side in process: success, and each hostile case refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.errors import DecodeError, ProtocolError
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.pki.cvc.chat import CHAT, AccessRight, Role
from cardlib.pki.cvc.keys import cv_signer
from cardlib.pki.eac import EACPKI, EACConfig
from cardlib.protocols.apdu import CommandAPDU
from cardlib.protocols.ta import (
    TAChip,
    TAError,
    TATerminal,
    compress_public_key,
    decode_ef_cvca,
    encode_ef_cvca,
    id_picc_after_bac,
    signed_data,
)

TODAY = date(2030, 6, 1)
ID_PICC = id_picc_after_bac("C01X00T47")
EPHEMERAL = b"\x04" + bytes(range(1, 33)) + bytes(range(33, 65))


@pytest.fixture(scope="module")
def pki() -> EACPKI:
    return EACPKI.generate(today=TODAY)


def _chip(pki: EACPKI, today: date = TODAY) -> TAChip:
    return TAChip([pki.trust_point], today, id_picc=ID_PICC, ephemeral_public_key=EPHEMERAL)


def _run(terminal: TATerminal, chip: TAChip) -> None:
    """The exchange a reader will drive: each step to 9000, then EXTERNAL AUTHENTICATE."""
    challenge = b""
    for step in terminal.steps():
        challenge = terminal.check(step, chip.handle(step.command))
    final = terminal.external_authenticate(challenge)
    terminal.check(final, chip.handle(final.command))


def _terminal(pki: EACPKI, chain: list[CVCertificate] | None = None, *, signer: object = None,
              ephemeral: bytes = EPHEMERAL) -> TATerminal:
    return TATerminal(chain or pki.chain, signer or pki.terminal_signer(), id_picc=ID_PICC,  # type: ignore[arg-type]
                      ephemeral_public_key=ephemeral)


def test_terminal_with_the_right_reads_dg3_and_dg4(pki: EACPKI) -> None:
    chip = _chip(pki)
    assert not chip.may_read(3) and chip.may_read(2)
    _run(_terminal(pki), chip)
    assert chip.authenticated and chip.granted == AccessRight.READ_DG3 | AccessRight.READ_DG4
    assert chip.may_read(3) and chip.may_read(4)


def test_signed_data_is_id_picc_challenge_and_compressed_key() -> None:
    assert ID_PICC[:9] == b"C01X00T47" and len(ID_PICC) == 10 and ID_PICC[9:].isdigit()
    assert compress_public_key(EPHEMERAL) == bytes(range(1, 33))
    assert signed_data(b"ID", b"12345678", EPHEMERAL) == b"ID12345678" + bytes(range(1, 33))
    assert len(compress_public_key(b"\x01" * 128)) == 20  # DH: SHA-1


def test_chain_to_another_cvca_is_refused_at_set_dst(pki: EACPKI) -> None:
    other = EACPKI.generate(EACConfig(cvca_mnemonic="OTHERCA"), today=TODAY)
    chip = _chip(pki)
    with pytest.raises(TAError) as caught:
        _run(_terminal(other), chip)
    assert (caught.value.step, caught.value.sw, caught.value.chr) == ("MSE:SET DST", 0x6A88, other.dv.chr)
    assert not chip.authenticated and not chip.may_read(3)


def test_forged_dv_under_the_same_name_is_refused(pki: EACPKI) -> None:
    impostor = EACPKI.generate(today=TODAY)  # same CAR/CHR names, other keys
    with pytest.raises(TAError) as caught:
        _run(_terminal(impostor), _chip(pki))
    assert (caught.value.step, caught.value.sw) == ("PSO:VERIFY CERTIFICATE", 0x6A80)


def _reissued_is(pki: EACPKI, **changes: object) -> CVCertificate:
    body = replace(pki.inspection_system.body, **changes)  # type: ignore[arg-type]
    return CVCertificate.issue(body, cv_signer(pki.dv_key, pki.dv.body.public_key.oid))


def test_expired_terminal_certificate_is_refused(pki: EACPKI) -> None:
    expired = _reissued_is(pki, effective=TODAY - timedelta(days=30), expiration=TODAY - timedelta(days=1))
    chip = _chip(pki)
    with pytest.raises(TAError) as caught:
        _run(_terminal(pki, [pki.dv, expired]), chip)
    assert (caught.value.step, caught.value.sw, caught.value.chr) == ("PSO:VERIFY CERTIFICATE", 0x6A80, expired.chr)


def test_chat_without_the_right_authenticates_but_releases_nothing(pki: EACPKI) -> None:
    no_rights = _reissued_is(pki, chat=CHAT.inspection_system(Role.INSPECTION_SYSTEM, AccessRight.READ_DG4))
    chip = _chip(pki)
    _run(_terminal(pki, [pki.dv, no_rights]), chip)
    assert chip.authenticated and not chip.may_read(3) and chip.may_read(4)


def test_bad_signature_is_refused(pki: EACPKI) -> None:
    wrong_key = ec.generate_private_key(ec.BrainpoolP256R1())
    chip = _chip(pki)
    with pytest.raises(TAError) as caught:
        _run(_terminal(pki, signer=cv_signer(wrong_key, pki.inspection_system.body.public_key.oid)), chip)
    assert (caught.value.step, caught.value.sw) == ("EXTERNAL AUTHENTICATE", 0x6300)
    assert not chip.authenticated


def test_signature_bound_to_another_session_is_refused(pki: EACPKI) -> None:
    other_session = b"\x04" + bytes(64)
    with pytest.raises(TAError) as caught:
        _run(_terminal(pki, ephemeral=other_session), _chip(pki))
    assert caught.value.sw == 0x6300


def test_chip_date_moves_forward_and_persists(pki: EACPKI) -> None:
    chip = _chip(pki, TODAY - timedelta(days=5))
    _run(_terminal(pki), chip)
    assert chip.current_date == TODAY


def test_link_certificate_becomes_a_trust_point(pki: EACPKI) -> None:
    new_cvca_key = ec.generate_private_key(ec.BrainpoolP256R1())
    oid = pki.cvca.body.public_key.oid
    new_name = "VNTESTCVCA00002"
    link = CVCertificate.issue(replace(pki.cvca.body, chr=new_name, public_key=replace(
        pki.cvca.body.public_key, point=_point(new_cvca_key))), cv_signer(pki.cvca_key, oid))
    dv = CVCertificate.issue(replace(pki.dv.body, car=new_name), cv_signer(new_cvca_key, oid))
    chip = _chip(pki)
    _run(_terminal(pki, [link, dv, pki.inspection_system]), chip)
    assert [point.chr for point in chip.trust_points] == [pki.cvca.chr, new_name]


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


@pytest.mark.parametrize("command", [
    bytes.fromhex("002A00BE00"),  # PSO without MSE:SET DST
    bytes.fromhex("0082000000"),  # EXTERNAL AUTHENTICATE without SET AT or challenge
    bytes.fromhex("002281B603830100"),  # unknown reference
    bytes.fromhex("002281A4028305"),  # malformed TLV (83 claims 5 bytes)
    bytes.fromhex("00220000"),  # MSE with unknown P1P2
])
def test_chip_answers_out_of_order_and_malformed_commands(pki: EACPKI, command: bytes) -> None:
    answer = _chip(pki).handle(CommandAPDU.parse(command))
    assert answer.sw in (0x6985, 0x6A88, 0x6A80, 0x6A86)


def test_chip_refuses_garbage_certificate(pki: EACPKI) -> None:
    chip = _chip(pki)
    assert chip.handle(CommandAPDU(0, 0x22, 0x81, 0xB6, b"\x83" + bytes([len(pki.cvca.chr)])
                                   + pki.cvca.chr.encode())).sw == 0x9000
    assert chip.handle(CommandAPDU(0, 0x2A, 0x00, 0xBE, b"\x7f\x4e\x05garbage")).sw == 0x6A80


def test_terminal_refuses_a_chain_without_an_inspection_system(pki: EACPKI) -> None:
    with pytest.raises(ProtocolError):
        _terminal(pki, [pki.dv])


def test_ef_cvca_round_trip() -> None:
    data = encode_ef_cvca(["VNTESTCVCA00001", "VNTESTCVCA00002"])
    assert len(data) == 36 and decode_ef_cvca(data) == ["VNTESTCVCA00001", "VNTESTCVCA00002"]
    with pytest.raises(DecodeError):
        decode_ef_cvca(bytes(36))
