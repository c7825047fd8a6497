"""DG2, the encoded face: ICAO 9303-10 §4.7.2 biometric templates holding ISO/IEC 19794-5 or 39794-5 records.

Layout (tag ``75``)::

    75 { 7F61 { 02 count,
                7F60 { A1 { biometric header template: 80 version, 81 type, 82 subtype, 83 date,
                            85 validity, 86 creator, 87 format owner, 88 format type },
                       5F2E { ISO/IEC 19794-5:2005 record "FAC\\0" "010\\0" ... }    (or)
                       7F2E { ISO/IEC 39794-5 record: A1 { 65 FaceImageDataBlock } } } ... } }

We *encode* the 19794-5 form only, because that is what the CCCD chip carries (shared docs, "What real cards
carry"); we *decode* both.  Every 19794-5 header field is kept, so the BSI 2008 and LOES 2006 specimen DG2
files re-encode byte for byte.  The 39794-5 record is extensible ASN.1 (``...`` in every SEQUENCE) with
implicit context tags; a declarative asn1crypto model would reject the extension fields that the standard
allows, so it is walked with the BER-TLV reader instead, taking the fields a verifier needs (image, format,
size, gender, eye and hair colour, colour space, capture technology, MPEG-4 landmarks) and skipping the rest.
A face read from a 39794-5 record therefore re-encodes as a 19794-5 record, not as the bytes it came from.

Image bytes are not checked while decoding: a record whose structure is sound parses, and a corrupt image
only fails when it is decoded (:meth:`FaceImage.to_pil` raises :class:`DecodeError`).  A reader can then
still hash, store and report the file instead of losing it.  A DG2 holding more than MAX_FACES_PER_DG2
faces is refused (:class:`~cardlib.limits.LimitExceeded`) before any face is decoded, and every image
decode keeps to the budgets described at :func:`cardlib.lds.images.load_image`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cardlib.errors import DecodeError, EncodeError
from cardlib.lds.cbeff import TAG_BDB, TAG_BDB_CONSTRUCTED, decode_block, decode_group, encode_group
from cardlib.lds.face import FaceImage, check_face_count
from cardlib.lds.iso19794_5 import FAC_MAGIC, decode_19794, encode_face_record
from cardlib.lds.iso39794_5 import TAG_39794_RECORD, decode_39794

FILE = "DG2"

TAG_DG2 = 0x75


@dataclass(frozen=True)
class DG2:
    """Data group 2: the holder's face images, one biometric information template each.

    ``faces`` may be given as any sequence; it is kept as a tuple so that a DG2 is immutable and comparable.
    """

    faces: Sequence[FaceImage]

    def __post_init__(self) -> None:
        object.__setattr__(self, "faces", tuple(self.faces))

    def encode(self) -> bytes:
        """The whole DG2 file (tag 75); each face becomes a 19794-5 record under its own header."""
        if not self.faces:
            raise EncodeError("DG2 needs at least one face")
        return encode_group(TAG_DG2, [(face.header, encode_face_record(face)) for face in self.faces])

    @classmethod
    def decode(cls, data: bytes) -> DG2:
        """Decode a whole DG2 file; errors name the field and the offset within the file."""
        templates = decode_group(data, TAG_DG2, file=FILE, check_count=check_face_count,
                                 block_tags=(TAG_BDB, TAG_BDB_CONSTRUCTED))
        faces = [replace(face, header=template.header) for template in templates
                 for face in decode_block(template, decode_face_record, file=FILE)]
        check_face_count(len(faces))
        return cls(faces)


def decode_face_record(record: bytes) -> list[FaceImage]:
    """Decode a bare face record: ISO/IEC 19794-5 (``FAC\\0``) or ISO/IEC 39794-5 (tag ``A1``)."""
    if record.startswith(FAC_MAGIC):
        return decode_19794(record)
    if record[:1] == bytes([TAG_39794_RECORD]):
        return decode_39794(record)
    raise DecodeError("neither an ISO/IEC 19794-5 nor a 39794-5 face record", field="face record", offset=0)


__all__ = ["DG2", "FILE", "TAG_DG2", "decode_face_record"]
