"""PKCS#11 token signing on a private SoftHSM2 token: keys stay inside, SODs signed there verify VALID,
and a missing module or token, a wrong PIN, a locked token or a missing key is a plain PKIError."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, ObjectClass

from cardlib.batch.pool import process_pool
from cardlib.card.perso import personalize
from cardlib.errors import PKIError
from cardlib.pki.hsm import (
    PinSource,
    Token,
    TokenConfig,
    TokenSigner,
    init_token,
    softhsm_document_signer,
    softhsm_environment,
)
from cardlib.pki.profile import KeySpec
from cardlib.pki.signatures import verify_signature
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki, sample_trust
from cardlib.verify.report import Verdict
from cardlib.verify.verifier import verify

USER_PIN = "4711-cardlib"


@pytest.fixture
def token_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenConfig:
    """A fresh SoftHSM2 token in tmp_path, its user PIN in an environment variable."""
    monkeypatch.setenv("SOFTHSM2_CONF", "")  # restored after the test; softhsm_environment sets the real one
    softhsm_environment(tmp_path)
    init_token("factory", "so-pin-123", USER_PIN)
    monkeypatch.setenv("CARDLIB_TEST_PIN", USER_PIN)
    return TokenConfig("factory", PinSource(env="CARDLIB_TEST_PIN"))


@pytest.mark.parametrize("spec", ["brainpoolP384r1:sha384", "brainpoolP512r1:sha512", "secp256r1:sha256",
                                  "rsa2048-pss:sha256", "rsa2048-pkcs1:sha256"])
def test_keys_generated_in_the_token_sign_verifiably(token_config: TokenConfig, spec: str) -> None:
    key_spec = KeySpec.parse(spec)
    with Token(token_config) as token:
        key = token.generate_key(key_spec, "ds")
        signature = key.sign(b"signed attributes", key_spec.algorithm)
        identifier = key_spec.algorithm.identifier()
        assert verify_signature(key.public_key(), signature, b"signed attributes", identifier)
        assert not verify_signature(key.public_key(), signature, b"other bytes", identifier)
        expected = ec.EllipticCurvePublicKey if key_spec.curve else rsa.RSAPublicKey
        assert isinstance(key.public_key(), expected)


def test_private_key_is_sensitive_and_never_extractable(token_config: TokenConfig) -> None:
    with Token(token_config) as token:
        key = token.generate_key(KeySpec.parse("brainpoolP384r1:sha384"), "ds")
        private = token._session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key.key_id)
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False


def test_keys_are_found_again_in_a_new_session_and_can_be_destroyed(token_config: TokenConfig) -> None:
    spec = KeySpec.parse("secp384r1:sha384")
    with Token(token_config) as token:
        key_id = token.generate_key(spec, "ds").key_id
    with Token(token_config) as token:
        found = token.key(key_id)
        assert found.key_id == key_id and found.label == "ds"
        token.destroy_key(key_id)
        with pytest.raises(PKIError, match=f"holds no key with id {key_id.hex()}"):
            token.key(key_id)


def test_sod_signed_in_the_token_verifies_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", "")
    pki = sample_pki()
    signer = softhsm_document_signer(tmp_path / "hsm", pki)
    try:
        assert (tmp_path / "hsm" / "user.pin").stat().st_mode & 0o077 == 0
        image = personalize(sample_resident(3), synthetic_portrait_jpeg(3), signer)
    finally:
        signer.token.close()
    report = verify(image, sample_trust())
    assert report.verdict is Verdict.VALID, report.to_text()
    assert signer.certificate.issuer == pki.csca_certificate.subject
    assert signer.certificate.public_key().public_numbers() == signer.key.public_key().public_numbers()


def test_repr_shows_no_pin(token_config: TokenConfig) -> None:
    pki = sample_pki()
    with Token(token_config) as token:
        key = token.generate_key(pki.config.ds_key, "ds")
        signer = TokenSigner(pki.ds_certificate, key, pki.config.ds_key.algorithm, token)
        for text in (repr(signer), repr(token), repr(key), repr(token_config)):
            assert USER_PIN not in text
        assert "factory" in repr(signer)


def test_wrong_pin_is_a_plain_error(token_config: TokenConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDLIB_TEST_PIN", "not-the-pin")
    with pytest.raises(PKIError, match="wrong PIN for token 'factory'") as caught:
        Token(token_config)
    assert "not-the-pin" not in str(caught.value)


def test_missing_pin_names_the_variable_not_a_value(token_config: TokenConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDLIB_TEST_PIN")
    with pytest.raises(PKIError, match="no token PIN in environment variable CARDLIB_TEST_PIN"):
        Token(token_config)


def test_pin_from_a_file(token_config: TokenConfig, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(USER_PIN + "\n")
    with Token(TokenConfig("factory", PinSource(file=pin_file))) as token:
        assert token.config.label == "factory"
    with pytest.raises(PKIError, match=r"token PIN file .*: cannot read"):
        PinSource(file=tmp_path / "absent").read()


def test_locked_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", "")
    softhsm_environment(tmp_path)
    init_token("sealed", "so-pin-123", None)
    monkeypatch.setenv("CARDLIB_TEST_PIN", USER_PIN)
    with pytest.raises(PKIError, match="token 'sealed' is locked"):
        Token(TokenConfig("sealed", PinSource(env="CARDLIB_TEST_PIN")))


def test_missing_token_and_missing_module(token_config: TokenConfig) -> None:
    with pytest.raises(PKIError, match="no token labelled 'elsewhere'"):
        Token(TokenConfig("elsewhere", token_config.pin))
    with pytest.raises(PKIError, match=r"PKCS#11 module /nonexistent/libhsm\.so not found"):
        Token(TokenConfig("factory", token_config.pin, module="/nonexistent/libhsm.so"))



def _sign_in_a_new_session(config: TokenConfig, key_id: bytes) -> bytes:
    """What a perso worker does: open the token, find the Document Signer key, sign."""
    spec = KeySpec.parse("brainpoolP384r1:sha384")
    with Token(config) as token:
        return token.key(key_id).sign(b"signed attributes", spec.algorithm)


def test_workers_forked_after_the_parent_used_the_token_open_it_again(token_config: TokenConfig) -> None:
    # cardtool perso opens the token in its own process (to refuse a wrong PIN before any row), then forks its
    # workers: a child inherits a PKCS#11 module initialised by its parent, which the standard leaves undefined and
    # SoftHSM2 answered, now and then, with CKR_GENERAL_ERROR; each process now initialises the module itself.
    spec = KeySpec.parse("brainpoolP384r1:sha384")
    with Token(token_config) as token:
        key = token.generate_key(spec, "ds")
    for _ in range(40):
        with process_pool(2) as pool:
            signatures = list(pool.map(partial(_sign_in_a_new_session, token_config), [key.key_id] * 8))
        assert all(verify_signature(key.public_key(), signature, b"signed attributes", spec.algorithm.identifier())
                   for signature in signatures)
