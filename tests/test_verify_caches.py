"""What verification caches for speed (issue 18) is keyed on exact bytes and changes no outcome.

A batch verifies thousands of cards under one Document Signer, so parsed certificates, name comparisons,
explicit curve parameters and the python-ecdsa key of a curve cryptography lacks are kept by their exact bytes;
the LDS is decoded once per card; a JPEG 2000 portrait is decoded at a low resolution level.  Each test shows
the fast path gives what the slow one gave, and that a wrong input is still caught after the cache is warm.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ecdsa
import ecdsa.util
import pytest
from asn1crypto import x509 as asn1_x509

from cardlib.card.image import CardImage
from cardlib.curves import by_name
from cardlib.errors import DecodeError, PKIError
from cardlib.lds.dg2 import DG2
from cardlib.lds.images import (
    DeclaredImage,
    _jpeg2000_reduction,
    declared_image,
    decode_image,
    open_image,
    verify_image,
)
from cardlib.pki.certificates import Certificate
from cardlib.pki.names import names_equal
from cardlib.pki.signatures import ECPublicPoint, verify_signature
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import sample_pki
from cardlib.verify.decoded import DecodedLDS

ECDSA_SHA1 = "1.2.840.10045.4.1"


def test_the_same_certificate_bytes_give_the_same_parsed_certificate() -> None:
    ds = Certificate.from_cryptography(sample_pki().ds_certificate)
    assert Certificate.from_der(bytes(bytearray(ds.der))) is ds  # cached by the bytes, not the object
    other = Certificate.from_cryptography(sample_pki().csca_certificate)
    assert other is not ds and other != ds


def test_a_malformed_certificate_fails_every_time() -> None:
    broken = Certificate.from_cryptography(sample_pki().ds_certificate).der[:-7]
    for _ in range(2):  # an error is never cached as a certificate
        with pytest.raises(PKIError, match=r"malformed X\.509 certificate"):
            Certificate.from_der(broken)


def test_cached_name_comparison_is_rfc5280_comparison() -> None:
    ds = Certificate.from_cryptography(sample_pki().ds_certificate)
    csca = Certificate.from_cryptography(sample_pki().csca_certificate)
    upper = asn1_x509.Name.build({"common_name": "CSCA TEST", "country_name": "VN"})
    lower = asn1_x509.Name.build({"common_name": "csca  test", "country_name": "VN"})
    assert names_equal(upper, lower) and names_equal(ds.issuer_name, csca.subject_name)
    assert not names_equal(ds.subject_name, csca.subject_name)


def test_point_key_verifies_before_and_after_its_precomputation() -> None:
    curve = by_name("brainpoolP224r1")
    assert curve.crypto_curve is None  # the curve of the BSI 2008 specimen, which cryptography lacks
    private = ecdsa.SigningKey.generate(curve=curve.ecdsa_curve)
    point = private.get_verifying_key().pubkey.point
    public = ECPublicPoint(curve, point.x(), point.y())
    signatures = [private.sign(data, hashfunc=hashlib.sha1, sigencode=ecdsa.util.sigencode_der)
                  for data in (b"card 1", b"card 2", b"card 3")]
    for index, signature in enumerate(signatures, 1):  # the second use precomputes the key
        assert verify_signature(public, signature, f"card {index}".encode(), ECDSA_SHA1)
        assert not verify_signature(public, signature, b"forged", ECDSA_SHA1)


def test_a_point_off_the_curve_is_refused_every_time() -> None:
    curve = by_name("brainpoolP224r1")
    for _ in range(2):
        with pytest.raises(PKIError, match="not a point on"):
            verify_signature(ECPublicPoint(curve, 1, 1), b"\x30\x00", b"data", ECDSA_SHA1)


def test_decoded_lds_without_files_is_decoding_the_rest() -> None:
    files = dict(sample_card_image(2).files)
    files["DG15"] = b"\x6f\x03\x01\x02"  # malformed, so DecodedLDS keeps its error
    whole = DecodedLDS.of(files)
    assert "DG15" in whole.errors
    for gone in ({"DG15"}, {"DG2", "DG13"}, {"DG14", "DG15", "EF.COM"}):
        fast = whole.without(gone)
        slow = DecodedLDS.of({name: data for name, data in files.items() if name not in gone})
        for attribute in ("com", "dg1", "dg2", "dg13", "dg14", "dg15"):
            assert getattr(fast, attribute) == getattr(slow, attribute), (gone, attribute)
        assert set(fast.errors) == set(slow.errors)


# --- JPEG 2000 portraits decoded at a low resolution level ----------------------------------------------------


def _reduced_size(image: bytes) -> tuple[int, int]:
    with open_image(image) as opened:
        declared = declared_image(opened, image)
        level = _jpeg2000_reduction(declared, 0, (1, 1))
    return -(-declared.width >> level), -(-declared.height >> level)


@pytest.mark.parametrize("folder", ["bsi2008", "loes2006"])
def test_specimen_portraits_decode_at_a_level_pillow_can_size(shared_data: Path, folder: str) -> None:
    image = DG2.decode(CardImage.load(shared_data / folder).files["DG2"]).faces[0].image
    full = decode_image(image).size
    assert verify_image(image) == full  # the declared size, as before
    reduced = _reduced_size(image)
    assert reduced[0] < full[0] and reduced[1] < full[1]  # not the full decode any more


def test_bsi_portrait_decodes_at_its_lowest_level(shared_data: Path) -> None:
    image = (shared_data / "dg2/silver.jp2").read_bytes()  # the BSI 2008 portrait: 413x531, 5 levels
    assert _reduced_size(image) == (13, 17)


@pytest.mark.parametrize("damage", ["truncated", "tile data overwritten", "garbage"])
def test_a_broken_jpeg2000_portrait_still_does_not_decode(shared_data: Path, damage: str) -> None:
    image = (shared_data / "dg2/silver.jp2").read_bytes()
    data = image.index(b"\xff\x93") + 2  # start of the first tile's packet data
    broken = {"truncated": image[:data],
              "tile data overwritten": image[:data] + b"\xff" * 200 + image[data + 200:],
              "garbage": image[:data] + bytes(range(256)) * 5}[damage]
    with pytest.raises(DecodeError):
        verify_image(broken)


def test_levels_where_pillow_and_openjpeg_disagree_are_skipped() -> None:
    # 449x598 (LOES 2006): at 1/4 OpenJPEG gives 113x150, pillow expects 112x150 and reports a broken stream.
    assert _jpeg2000_reduction(DeclaredImage(449, 598, 4), 0, (1, 1)) == 1
    assert _jpeg2000_reduction(DeclaredImage(413, 531, 5), 0, (1, 1)) == 5
    assert _jpeg2000_reduction(DeclaredImage(413, 531, 5), 2, None) == 2  # without fit: the budget's level
