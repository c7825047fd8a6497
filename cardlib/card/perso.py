"""Personalization: a resident and a portrait become the complete, signed file set of a CCCD chip.

The chip profile follows the real card (shared docs, "Files on the chip" and "Access control"):
EF.COM (LDS 1.7) lists DG1, DG2, DG3, DG13, DG14, DG15; EF.CardAccess offers PACE-ECDH-GM-AES-128 on
brainpoolP256r1 (parameter ID 13), Chip Authentication ECDH-AES-128 and Terminal Authentication v1;
DG14 carries the Chip Authentication public key; DG15 the Active Authentication key (EC by default,
RSA selectable); EF.SOD holds SHA-256 hashes of every data group, signed by the Document Signer.
DG3 holds the fingers given to :func:`personalize` (ISO/IEC 19794-4 records, WSQ; the CCCD keeps the two
index fingers there, behind Terminal Authentication), or no finger record when none is given.

:func:`prepare_portrait` turns a portrait file into the DG2 face image and says what it did to it
(used as it is, or resized and re-encoded), with a warning when the file is far larger than a card
portrait needs (:data:`PORTRAIT_WARN_BYTES`, :data:`PORTRAIT_WARN_PIXELS`): a 30 MB, 4200×5600
photo is usually the wrong file (a camera original, a scan of a whole form) and costs time on every row.
:func:`prepare_finger` likewise turns a finger image file into a DG3 finger image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

from cardlib import curves
from cardlib.card.image import AAPrivateKey, CardImage, ChipSecrets
from cardlib.card.portrait import PORTRAIT_HEIGHT, PORTRAIT_WIDTH, normalise_portrait
from cardlib.card.targets import ChipTarget
from cardlib.errors import CardlibError, ProtocolError, ValidationError
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg2 import DG2
from cardlib.lds.dg3 import DG3, IMAGE_FORMATS, Compression, FingerImage, FingerPosition, encode_wsq, register_wsq
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.face import FaceImage
from cardlib.lds.images import load_image, open_image
from cardlib.lds.oids import SIGNATURE_ALGORITHM_OIDS, protocol_oid
from cardlib.lds.securityinfo import (
    DG14,
    ActiveAuthenticationInfo,
    CardAccess,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PACEInfo,
    SecurityInfo,
    SecurityInfos,
    TerminalAuthenticationInfo,
)
from cardlib.lds.signeddata import SODSigner
from cardlib.lds.sod import LDSSecurityObject, encode_signed_data
from cardlib.limits import MAX_FILE_BYTES, MAX_FINGER_SIDE, LimitExceeded
from cardlib.model.mrz import MRZ
from cardlib.model.resident import Resident
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.protocols.pace import PACEParameters

# ecdsa-plain-SHA256, BSI TR-03111 §5.2.1: the AA signature algorithm named in DG14 for EC keys.

PORTRAIT_WARN_BYTES = 5_000_000
"""Portrait files above this size get a warning: a prepared ID photo is tens to hundreds of kilobytes."""
PORTRAIT_WARN_PIXELS = 12_000_000
"""Portraits above this many pixels (e.g. 3000×4000) get a warning: the card stores 360×480."""


@dataclass(frozen=True)
class ChipProfile:
    """The choices personalization makes for the chip; defaults are those of the real CCCD.

    ``pace_protocol`` and ``pace_parameter_id`` are the PACEInfo of EF.CardAccess: any PACE protocol cardlib
    runs (generic, integrated or chip authentication mapping; ECDH on a standardized curve, or DH on MODP group
    0-2).  A profile offering PACE-CAM needs its Chip Authentication key on the PACE curve, and gets an
    EF.CardSecurity signed by the Document Signer (:func:`card_security`).  ``trusted_cvca`` is the CVCA
    certificate the chip trusts for Terminal Authentication (e.g. ``EACPKI.load(dir).cvca``): only terminals
    whose chain leads to it may read DG3/DG4; without one the chip never releases them.
    """

    pace_protocol: str = protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-128")
    pace_parameter_id: int = 13
    ca_protocol: str = protocol_oid("id-CA-ECDH-AES-CBC-CMAC-128")
    ca_curve: str = "brainpoolP256r1"
    aa_key_type: Literal["ec", "rsa"] = "ec"
    aa_curve: str = "brainpoolP256r1"
    aa_rsa_bits: int = 2048
    digest: str = "sha256"
    portrait_format: Literal["JPEG", "JPEG2000"] = "JPEG"
    trusted_cvca: CVCertificate | None = None


DEFAULT_PROFILE = ChipProfile()


def pace_parameters(profile: ChipProfile) -> PACEParameters:
    """The PACE protocol ``profile`` offers; ValidationError when cardlib cannot run it, or when it is PACE-CAM
    and the Chip Authentication key is not on the PACE curve (CAM proves that key)."""
    try:
        params = PACEParameters(profile.pace_protocol, profile.pace_parameter_id)
    except ProtocolError as exc:
        raise ValidationError(str(exc), field="pace_protocol") from None
    if params.mapping == "CAM" and params.curve.name != profile.ca_curve:
        raise ValidationError(f"PACE-CAM on {params.curve.name} needs the Chip Authentication key on that curve, "
                              f"not {profile.ca_curve}", field="ca_curve")
    return params


@dataclass(frozen=True)
class ChipKeys:
    """The private keys a chip is born with."""

    aa: AAPrivateKey
    ca: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, profile: ChipProfile = DEFAULT_PROFILE) -> ChipKeys:
        """Fresh Active and Chip Authentication keys as ``profile`` asks."""
        aa: AAPrivateKey
        if profile.aa_key_type == "rsa":
            aa = rsa.generate_private_key(65537, profile.aa_rsa_bits)
        else:
            aa = ec.generate_private_key(curves.by_name(profile.aa_curve).require_crypto_curve())
        ca = ec.generate_private_key(curves.by_name(profile.ca_curve).require_crypto_curve())
        return cls(aa, ca)


def card_access(profile: ChipProfile = DEFAULT_PROFILE) -> bytes:
    """EF.CardAccess as on the real card: PACEInfo, ChipAuthenticationInfo, TerminalAuthenticationInfo."""
    return CardAccess((
        PACEInfo(profile.pace_protocol, 2, profile.pace_parameter_id),
        ChipAuthenticationInfo(profile.ca_protocol, 1),
        TerminalAuthenticationInfo(1),
    )).encode()


def card_security(keys: ChipKeys, signer: SODSigner, profile: ChipProfile = DEFAULT_PROFILE, *,
                  signing_time: datetime | None = None) -> bytes:
    """EF.CardSecurity signed by the Document Signer: the PACEInfo, the Chip Authentication protocol and key
    (the static key PACE-CAM proves, as in DG14) and Terminal Authentication."""
    infos = SecurityInfos((
        PACEInfo(profile.pace_protocol, 2, profile.pace_parameter_id),
        ChipAuthenticationInfo(profile.ca_protocol, 1),
        ChipAuthenticationPublicKeyInfo.for_key(keys.ca.public_key(), explicit_parameters=True),
        TerminalAuthenticationInfo(1),
    ))
    return CardSecurity.sign(infos, signer, signing_time=signing_time).encode()


def dg14(keys: ChipKeys, profile: ChipProfile = DEFAULT_PROFILE) -> bytes:
    """DG14: the Chip Authentication public key and protocol, PACE, and (for EC keys) the AA algorithm."""
    infos: list[SecurityInfo] = [
        ChipAuthenticationPublicKeyInfo.for_key(keys.ca.public_key(), explicit_parameters=True),
        ChipAuthenticationInfo(profile.ca_protocol, 1),
        PACEInfo(profile.pace_protocol, 2, profile.pace_parameter_id),
    ]
    if isinstance(keys.aa, ec.EllipticCurvePrivateKey):
        infos.append(ActiveAuthenticationInfo(1, SIGNATURE_ALGORITHM_OIDS["ecdsa-plain-SHA256"]))
    return DG14(tuple(infos)).encode()


@dataclass(frozen=True)
class PreparedPortrait:
    """A portrait file made ready for DG2: the face image, what was done to the file, and any warning."""

    face: FaceImage
    done: str
    warning: str | None = None


def prepare_portrait(path: Path, profile: ChipProfile = DEFAULT_PROFILE) -> PreparedPortrait:
    """Normalise the portrait at ``path`` (see :mod:`cardlib.card.portrait`) and say what was done to it.

    Raises :class:`ValidationError` with ``field="portrait"`` when the file cannot be read, is not an
    image, is over a decoding budget, or cannot be encoded within the DG2 size.
    """
    try:
        size = path.stat().st_size
        face = normalise_portrait(path, format=profile.portrait_format)
    except OSError as exc:
        raise ValidationError(f"cannot read {path.name} ({exc.strerror or type(exc).__name__})",
                              field="portrait") from None
    except CardlibError as exc:
        raise ValidationError(str(exc), field="portrait") from None
    source = _image_size(path)
    return PreparedPortrait(face, _portrait_done(path, size, source, face), _portrait_warning(path, size, source))


FINGER_PPI = 500
"""Resolution recorded for a finger image file that does not state its own (ISO/IEC 19794-4's usual scan)."""


def prepare_finger(source: Path | bytes, position: FingerPosition, *, field: str | None = None) -> FingerImage:
    """The DG3 finger image at ``position`` from an image file (or its bytes): WSQ is kept as it is; PNG,
    JPEG or JPEG 2000 is decoded within the budgets, made 8-bit grey and compressed as WSQ.

    The resolution is the one the file states (PNG/JPEG dots per inch), else :data:`FINGER_PPI`.  Raises
    :class:`ValidationError` naming ``field`` (default: the position, e.g. ``right_index``) when the file cannot
    be read, is not such an image, is over a decoding budget or wider or taller than MAX_FINGER_SIDE.
    """
    name = field or position.name.lower()
    label = source.name if isinstance(source, Path) else "finger image"
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        register_wsq()
        with open_image(data, source=label, formats=IMAGE_FORMATS) as opened:
            width, height = opened.size
            if max(width, height) > MAX_FINGER_SIDE:
                raise LimitExceeded("MAX_FINGER_SIDE", f"{label} side", MAX_FINGER_SIDE,
                                    max(width, height))
            wsq = opened.format == "WSQ"
            ppi = _stated_ppi(opened.info.get("dpi"))
            pixels = load_image(opened, data, source=label)
            image = data if wsq else encode_wsq(pixels)
    except OSError as exc:
        raise ValidationError(f"cannot read {label} ({exc.strerror or type(exc).__name__})", field=name) from None
    except CardlibError as exc:
        raise ValidationError(str(exc), field=name) from None
    return FingerImage.for_finger(image, Compression.WSQ, position, width, height, resolution=ppi)


def _stated_ppi(dpi: object) -> int:
    """The horizontal resolution an image file states (pillow's ``dpi`` info), else :data:`FINGER_PPI`."""
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float) and dpi[0] >= 1:
        return round(dpi[0])
    return FINGER_PPI


def _image_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the image's header (the pixels are not decoded), None if unreadable."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _portrait_done(path: Path, size: int, source: tuple[int, int] | None, face: FaceImage) -> str:
    result = f"{PORTRAIT_WIDTH}×{PORTRAIT_HEIGHT} {face.format.name} of {len(face.image):,} bytes"
    if size == len(face.image) and path.read_bytes() == face.image:
        return f"used as it is ({result})"
    shape = f"{source[0]}×{source[1]}" if source else "unknown size"
    if source == (PORTRAIT_WIDTH, PORTRAIT_HEIGHT):
        return f"re-encoded from {size:,} bytes to a {result}"
    return f"resized from {shape} ({size:,} bytes) and re-encoded as a {result}"


def _portrait_warning(path: Path, size: int, source: tuple[int, int] | None) -> str | None:
    pixels = source[0] * source[1] if source else 0
    if size <= PORTRAIT_WARN_BYTES and pixels <= PORTRAIT_WARN_PIXELS:
        return None
    shape = f"{source[0]}×{source[1]} pixels, " if source else ""
    return (f"portrait {path.name} is {shape}{size / 1e6:.1f} MB, far more than the card's "
            f"{PORTRAIT_WIDTH}×{PORTRAIT_HEIGHT} needs (warned above {PORTRAIT_WARN_BYTES / 1e6:.0f} MB or "
            f"{PORTRAIT_WARN_PIXELS / 1e6:.0f} megapixels): check it is the right photo")


def personalize(
    resident: Resident,
    portrait: Path | bytes | Image.Image | FaceImage,
    signer: SODSigner,
    *,
    profile: ChipProfile = DEFAULT_PROFILE,
    keys: ChipKeys | None = None,
    signing_time: datetime | None = None,
    target: ChipTarget | None = None,
    fingers: Sequence[FingerImage] = (),
) -> CardImage:
    """The card image of ``resident``: every file encoded, the SOD signed by ``signer``, the chip's secrets.

    ``portrait`` is a source image, normalised here, or a face image already made (:func:`prepare_portrait`).
    ``fingers`` go to DG3 in the order given (:func:`prepare_finger`; the CCCD holds the right and left index
    fingers); without them DG3 holds no finger record.  ValidationError when two fingers share a position.
    ``keys`` lets a caller supply the chip keys (e.g. generated ahead in bulk); by default fresh ones are made.
    ``target`` makes an image that chip can hold (:mod:`cardlib.card.targets`): its AA key type and size, no
    EF.CardAccess without a master file, no DG14 without Chip Authentication; TargetError if it still cannot.
    """
    if not isinstance(resident, Resident):
        raise TypeError(f"personalize(): resident must be a Resident (Resident(...), Resident.from_dict(...)), "
                        f"got {type(resident).__name__}")
    profile = _profile_for(profile, target)
    cam = pace_parameters(profile).mapping == "CAM"
    keys = keys or ChipKeys.generate(profile)
    mrz = MRZ.from_resident(resident)
    face = portrait if isinstance(portrait, FaceImage) else normalise_portrait(portrait,
                                                                               format=profile.portrait_format)
    groups: dict[int, bytes] = {
        1: DG1(mrz).encode(),
        2: DG2((face,)).encode(),
        3: _dg3(fingers),
        13: DG13.from_resident(resident).encode(),
        14: dg14(keys, profile),
        15: DG15.from_cryptography(keys.aa.public_key()).encode(),
    }
    chip_authentication = target is None or target.chip_authentication
    if not chip_authentication:
        if cam:
            raise ValidationError("PACE-CAM needs the Chip Authentication key, which the target does not hold",
                                  field="pace_protocol")
        del groups[14]
    master_file = target is None or target.master_file
    sod = sign_data_groups(groups, signer, digest=profile.digest, signing_time=signing_time)
    files: Mapping[str, bytes] = {
        **({"EF.CardAccess": card_access(profile)} if master_file else {}),
        **({"EF.CardSecurity": card_security(keys, signer, profile, signing_time=signing_time)}
           if cam and master_file else {}),
        "EF.COM": EFCOM(data_groups=tuple(sorted(groups))).encode(),
        **{f"DG{number}": data for number, data in groups.items()},
        "EF.SOD": sod,
    }
    secrets = ChipSecrets(mrz.mrz_information, resident.can, keys.aa, keys.ca if chip_authentication else None, None,
                          *_eac_trust(profile, signing_time))
    image = CardImage(files, secrets, resident.id_number)
    if target is not None:
        target.check(image)
    return image


def _eac_trust(profile: ChipProfile, signing_time: datetime | None) -> tuple[tuple[CVCertificate, ...], date | None]:
    """The chip's trusted CVCA and its first current date (the day of personalization, TR-03110-1 2.7)."""
    if profile.trusted_cvca is None:
        return (), None
    return (profile.trusted_cvca,), (signing_time or datetime.now(UTC)).date()


def _dg3(fingers: Sequence[FingerImage]) -> bytes:
    """DG3 holding ``fingers``; ValidationError when a finger position comes twice (one impression each), or
    when the file would be larger than a reader accepts (MAX_FILE_BYTES)."""
    positions = [finger.position for finger in fingers]
    repeated = sorted({position.name.lower() for position in positions if positions.count(position) > 1})
    if repeated:
        raise ValidationError(f"more than one image of the {', '.join(repeated)} finger", field=repeated[0])
    data = DG3(tuple(fingers)).encode()
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"the finger images make a DG3 of {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} "
                              "a reader accepts (MAX_FILE_BYTES): give smaller or more compressed images",
                              field="fingers")
    return data


def _profile_for(profile: ChipProfile, target: ChipTarget | None) -> ChipProfile:
    """``profile`` with the Active Authentication key the target holds (RSA of its size when RSA is all it takes)."""
    bits = target.rsa_bits if target is not None else None
    return profile if bits is None else replace(profile, aa_key_type="rsa", aa_rsa_bits=bits)


def sign_data_groups(
    groups: Mapping[int, bytes], signer: SODSigner, *, digest: str = "sha256", signing_time: datetime | None = None
) -> bytes:
    """EF.SOD over ``groups`` (number → whole file bytes, outer tag included) signed by ``signer``."""
    lso = LDSSecurityObject.for_files(digest, dict(groups))
    return encode_signed_data(lso, signer, signing_time=signing_time)
