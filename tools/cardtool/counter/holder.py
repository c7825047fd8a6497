"""Who the card in the reader belongs to, as the counter page shows it: DG13 text fields and the DG2 portrait.

The view is built from the files just read and lives only as long as the session keeps it; its ``repr``
shows nothing personal (the ID number ends with the CAN).  DG13 is the source when it decodes; otherwise
the MRZ of DG1 gives what it can (name in capitals without diacritics, dates as YYMMDD).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from cardlib.errors import CardlibError
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2, FaceImage
from cardlib.lds.dg13 import DG13, FieldNumber

# DG13 fields the officer sees, in page order (the parents come from field 13).
_DG13_FIELDS = (
    ("full_name", FieldNumber.FULL_NAME), ("id_number", FieldNumber.ID_NUMBER),
    ("date_of_birth", FieldNumber.DATE_OF_BIRTH), ("sex", FieldNumber.SEX),
    ("nationality", FieldNumber.NATIONALITY), ("ethnicity", FieldNumber.ETHNICITY),
    ("religion", FieldNumber.RELIGION), ("place_of_origin", FieldNumber.PLACE_OF_ORIGIN),
    ("place_of_residence", FieldNumber.PLACE_OF_RESIDENCE), ("date_of_issue", FieldNumber.DATE_OF_ISSUE),
    ("date_of_expiry", FieldNumber.DATE_OF_EXPIRY),
)
_BROWSER_IMAGES = ("image/jpeg", "image/png")


@dataclass(frozen=True, repr=False)
class HolderView:
    """The holder's fields (key → text, in display order), where they came from, and the portrait.

    ``source`` is ``"DG13"`` or ``"DG1"``; ``portrait`` is JPEG or PNG bytes a browser shows (JPEG 2000
    portraits are converted), None when DG2 is missing or does not decode.
    """

    fields: tuple[tuple[str, str], ...]
    source: str
    portrait: bytes | None = field(default=None)
    portrait_type: str = ""

    def to_dict(self) -> dict[str, str]:
        """The text fields as a mapping (no portrait)."""
        return dict(self.fields)

    def __repr__(self) -> str:
        return f"HolderView({len(self.fields)} fields from {self.source or 'nothing'})"


def holder_view(files: Mapping[str, bytes]) -> HolderView:
    """The holder shown for the files read from a chip; empty fields when neither DG13 nor DG1 decodes."""
    portrait, portrait_type = _portrait(files.get("DG2"))
    fields, source = _dg13_fields(files.get("DG13"))
    if not fields:
        fields, source = _dg1_fields(files.get("DG1"))
    return HolderView(fields, source, portrait, portrait_type)


def _dg13_fields(data: bytes | None) -> tuple[tuple[tuple[str, str], ...], str]:
    if data is None:
        return (), ""
    try:
        dg13 = DG13.decode(data)
    except CardlibError:
        return (), ""
    father, mother = dg13.parents
    fields = [(key, dg13.shown(number) or "") for key, number in _DG13_FIELDS]
    return (*fields, ("father_name", father), ("mother_name", mother)), "DG13"


def _dg1_fields(data: bytes | None) -> tuple[tuple[tuple[str, str], ...], str]:
    if data is None:
        return (), ""
    try:
        mrz = DG1.decode(data).mrz
    except CardlibError:
        return (), ""
    return (("full_name", mrz.name), ("id_number", mrz.id_number or mrz.document_number),
            ("date_of_birth", mrz.date_of_birth), ("sex", mrz.sex), ("nationality", mrz.nationality),
            ("date_of_expiry", mrz.date_of_expiry)), "DG1"


def _portrait(data: bytes | None) -> tuple[bytes | None, str]:
    if data is None:
        return None, ""
    try:
        faces = DG2.decode(data).faces
        return _browser_image(faces[0]) if faces else (None, "")
    except CardlibError:
        return None, ""


def _browser_image(face: FaceImage) -> tuple[bytes, str]:
    """The face as bytes a browser can show: JPEG or PNG as stored, anything else converted to PNG."""
    if face.mime_type in _BROWSER_IMAGES:
        return face.image, face.mime_type
    buffer = io.BytesIO()
    face.to_pil().save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
