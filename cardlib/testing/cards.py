"""Ready-made synthetic cards for tests, benchmarks and demos: sample residents, their signed cards, a forgery.

Everything here is synthetic: the residents are invented, the portraits drawn by :mod:`cardlib.testing.faces`
and the cards signed by :func:`cardlib.testing.pki.sample_pki`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile, personalize
from cardlib.model.resident import Resident, Sex
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki


def sample_resident(index: int = 0) -> Resident:
    """A valid synthetic resident; ``index`` varies the ID number (born in Hà Nội in 1990)."""
    serial = f"{index % 1_000_000:06d}"
    return Resident(
        id_number=f"001190{serial}", full_name="Nguyễn Thị Thu Hương", date_of_birth=date(1990, 7, 2),
        sex=Sex.FEMALE, place_of_origin="Xã Đông Hội, Huyện Đông Anh, Hà Nội",
        place_of_residence="Số 18 Ngõ 42 Phố Trần Quốc Hoàn, Phường Dịch Vọng Hậu, Quận Cầu Giấy, Hà Nội",
        date_of_issue=date(2021, 4, 10), date_of_expiry=date(2030, 7, 2),
        identification_marks="Nốt ruồi C:2cm dưới mép trái",
        father_name="Nguyễn Văn Hải", mother_name="Trần Thị Lan", spouse_name="Lê Minh Quân",
        old_id_number="012345678",
    )


def sample_card_image(index: int = 0, *, profile: ChipProfile | None = None) -> CardImage:
    """A complete personalized synthetic card, signed by :func:`sample_pki`'s Document Signer."""
    resident = sample_resident(index)
    portrait = synthetic_portrait_jpeg(index)
    return personalize(resident, portrait, sample_pki().document_signer, profile=profile or ChipProfile())


def forge_dg13_expiry(image: CardImage, *, label: str = "forged-dg13") -> CardImage:
    """A copy of ``image`` whose DG13 date of expiry was edited after signing: a forger extending validity.

    One digit of the expiry date changes; the SOD stays as it was, so passive authentication must catch it.
    """
    dg13 = bytearray(image.files["DG13"])
    digit = dg13.rindex(b"/")  # the last date in DG13 is field 12, the date of expiry
    dg13[digit - 1] ^= 0x01
    return replace(image, files={**image.files, "DG13": bytes(dg13)}, label=label)
