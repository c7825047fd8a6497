"""Who the card in the reader belongs to, as the counter page shows it: the library's Holder, as text and portrait.

The view is built from the files just read (:func:`cardlib.verify.holder.read_holder`) and lives only as
long as the session keeps it; its ``repr`` shows nothing personal (the ID number ends with the CAN).  DG13
is the source when it decodes; otherwise the MRZ of DG1 gives what it can (name in capitals without
diacritics).  This module orders the fields, under the names the card's kind gives them
(:data:`cardlib.lds.dg13_fields.FIELD_TABLES`: a 2024 Căn cước shows field 8 as ``place_of_birth_registration``),
gives their labels in Vietnamese and English from that kind's table (:meth:`HolderView.labels`), and says which
kind the card is.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from cardlib.errors import CardlibError
from cardlib.lds.dg13_fields import CardKind, field_labels, renamed_fields
from cardlib.verify.holder import Holder, Portrait, read_holder

# The fields the officer sees, in page order.
PAGE_FIELDS = ("full_name", "id_number", "date_of_birth", "sex", "nationality", "ethnicity", "religion",
               "place_of_origin", "place_of_residence", "date_of_issue", "date_of_expiry", "father_name",
               "mother_name")
_BROWSER_IMAGES = ("image/jpeg", "image/png")


@dataclass(frozen=True, repr=False)
class HolderView:
    """The holder's fields (key → text, in display order), where they came from, and the portrait.

    ``source`` is ``"DG13"`` or ``"DG1"``; ``portrait`` is JPEG or PNG bytes a browser shows (JPEG 2000
    portraits are converted), None when DG2 is missing or does not decode; ``kind`` the card kind
    (a :class:`~cardlib.lds.dg13_fields.CardKind` value), "" when the data does not say (no dates, DG1 only).
    """

    fields: tuple[tuple[str, str], ...]
    source: str
    portrait: bytes | None = field(default=None)
    portrait_type: str = ""
    kind: str = ""

    def to_dict(self) -> dict[str, str]:
        """The text fields as a mapping (no portrait)."""
        return dict(self.fields)

    def labels(self) -> dict[str, dict[str, str]]:
        """Each field's label, ``{"vi": …, "en": …}``, as the card's kind names it; a card whose kind the data
        does not say (DG1 only) is labelled as a 2021 CCCD, whose field names are the library's own."""
        labels = field_labels(CardKind(self.kind) if self.kind else CardKind.CCCD_2021)
        return {key: labels[key].to_dict() for key, _ in self.fields}

    def __repr__(self) -> str:
        return f"HolderView({len(self.fields)} fields from {self.source or 'nothing'})"


def holder_view(files: Mapping[str, bytes]) -> HolderView:
    """The holder shown for the files read from a chip; no fields when neither DG13 nor DG1 decodes."""
    return view_of(read_holder(files))


def view_of(holder: Holder) -> HolderView:
    """The page's view of ``holder``: its texts in page order and a portrait a browser can show."""
    texts = holder.texts()
    kind = holder.card_kind
    names = renamed_fields(kind) if kind else {}
    fields = tuple((names.get(name, name), texts[name]) for name in PAGE_FIELDS if name in texts)
    portrait, portrait_type = _browser_image(holder.portrait) if holder.portrait else (None, "")
    return HolderView(fields, holder.source, portrait, portrait_type, kind.value if kind else "")


def _browser_image(portrait: Portrait) -> tuple[bytes | None, str]:
    """The portrait as bytes a browser can show: JPEG as stored, anything else converted to PNG."""
    if portrait.mime_type in _BROWSER_IMAGES:
        return portrait.data, portrait.mime_type
    buffer = io.BytesIO()
    try:
        portrait.to_pil().save(buffer, format="PNG")
    except CardlibError:
        return None, ""
    return buffer.getvalue(), "image/png"
