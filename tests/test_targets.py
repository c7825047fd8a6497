"""Chip targets: perso makes images a target can hold; an image it cannot hold is refused naming every reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cardtool.main import main
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipKeys, ChipProfile, personalize
from cardlib.card.targets import CCCD_VIRTUAL, JMRTD_APPLET, TargetError, target_named
from cardlib.lds.com import EFCOM
from cardlib.testing.cards import sample_card_image, sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki

RESIDENTS = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples" / "residents.csv"


def jmrtd_image(index: int = 0) -> CardImage:
    return personalize(sample_resident(index), synthetic_portrait_jpeg(index), sample_pki().document_signer,
                       target=JMRTD_APPLET)


def test_perso_for_the_jmrtd_applet_makes_what_it_holds() -> None:
    image = jmrtd_image()
    assert image.secrets is not None
    key = image.secrets.aa_private_key
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 1024
    assert image.secrets.ca_private_key is None
    assert "EF.CardAccess" not in image.files and "DG14" not in image.files
    assert EFCOM.decode(image.files["EF.COM"]).data_groups == (1, 2, 3, 13, 15)
    assert JMRTD_APPLET.problems(image) == []
    JMRTD_APPLET.check(image)


def test_the_default_cccd_image_is_refused_naming_every_reason() -> None:
    image = sample_card_image()
    with pytest.raises(TargetError) as caught:
        JMRTD_APPLET.check(image)
    message = str(caught.value)
    for reason in ("EC-256", "RSA-1024 only", "EF.CardAccess", "offers PACE", "Chip Authentication",
                   "cardtool perso --target jmrtd-applet"):
        assert reason in message
    assert CCCD_VIRTUAL.problems(image) == []


def test_a_pace_only_image_is_refused() -> None:
    image = jmrtd_image()
    pace_dg14 = sample_card_image().files["DG14"]  # announces PACE (and Chip Authentication)
    problems = JMRTD_APPLET.problems(replace(image, files={**image.files, "DG14": pace_dg14}))
    assert any("offers PACE" in problem and "BAC only" in problem for problem in problems)


def test_other_keys_sizes_dumps_and_big_files_are_refused() -> None:
    rsa_2048 = sample_card_image(profile=ChipProfile(aa_key_type="rsa"))
    assert any("RSA-2048" in problem for problem in JMRTD_APPLET.problems(rsa_2048))
    assert JMRTD_APPLET.problems(jmrtd_image().dump()) == [
        "it is a dump (files only): encoding needs a card image with its chip secrets"]
    image = jmrtd_image()
    big = replace(image, files={**image.files, "DG2": bytes(0x8000)})
    assert any("DG2 has 32,768 bytes" in problem for problem in JMRTD_APPLET.problems(big))
    assert image.secrets is not None
    no_key = replace(image, secrets=replace(image.secrets, aa_private_key=None))
    assert any("no Active Authentication private key" in problem for problem in JMRTD_APPLET.problems(no_key))


def test_a_caller_supplied_ec_key_cannot_sneak_past_the_target() -> None:
    keys = ChipKeys(ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(TargetError, match="EC-256"):
        personalize(sample_resident(), synthetic_portrait_jpeg(0), sample_pki().document_signer, keys=keys,
                    target=JMRTD_APPLET)


def test_unknown_target_names_the_known_ones() -> None:
    assert target_named("jmrtd-applet") is JMRTD_APPLET
    with pytest.raises(TargetError, match="known: jmrtd-applet, cccd-virtual"):
        target_named("jcop-passport")


def test_cardtool_perso_target(tmp_path: Path) -> None:
    sample_pki().save(tmp_path / "pki")
    out = tmp_path / "batch"
    status = main(["perso", str(RESIDENTS), "--pki", str(tmp_path / "pki"), "--out", str(out), "--workers", "1",
                   "--target", "jmrtd-applet"])
    cards = sorted((out / "cards").iterdir())
    assert status == 0 and len(cards) == 8
    for folder in cards:
        assert JMRTD_APPLET.problems(CardImage.load(folder)) == []
