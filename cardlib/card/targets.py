"""Chip targets: what a physical (or virtual) chip can hold, so images are made for it and checked before encoding.

A card image made for the virtual CCCD chip (PACE, Chip Authentication, an EC Active Authentication key,
EF.CardAccess in the master file) cannot be written onto every chip.  The open eMRTD applet test labs use,
JMRTD's passport applet, offers BAC with 3DES only, RSA-1024 Active Authentication only, no PACE, no master
file (so no EF.CardAccess), no way to load a Chip Authentication key through its personalization protocol,
and refuses DG3/DG4 before Terminal Authentication (issue 17).  A :class:`ChipTarget` says so in data:

* ``cardtool perso --target jmrtd-applet`` makes images the target can hold (see
  :func:`cardlib.card.perso.personalize`);
* :meth:`ChipTarget.check` refuses, before anything is written, an image the target cannot hold, naming
  every reason (an EC AA key, PACE, EF.CardAccess, Chip Authentication, a file too large).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.card.image import CardImage
from cardlib.errors import CardlibError
from cardlib.lds import files as lds_files
from cardlib.lds.securityinfo import DG14, CardAccess, SecurityInfos

AccessProtocol = Literal["BAC", "PACE"]
KeyType = Literal["rsa", "ec"]


class TargetError(CardlibError):
    """A card image the chip target cannot hold (nothing was written), or an unknown target name."""


@dataclass(frozen=True)
class ChipTarget:
    """What one kind of chip can hold: access protocols, Active Authentication keys, files.

    ``aa_keys`` lists the (key type, size in bits) pairs the chip can sign with; empty means any key cardlib
    makes.  ``master_file`` False: no EF.CardAccess.  ``protected_groups`` are refused to a reader before
    Terminal Authentication (a read-back cannot compare them).  ``max_file_bytes`` is the largest file the
    chip addresses.  ``aa_hash`` is the hash the chip's Active Authentication signs with.
    """

    name: str
    summary: str
    access: frozenset[AccessProtocol]
    bac_cipher: str
    aa_keys: tuple[tuple[KeyType, int], ...]
    chip_authentication: bool
    master_file: bool
    protected_groups: frozenset[int]
    max_file_bytes: int
    aa_hash: str = "sha256"

    @property
    def pace(self) -> bool:
        """True when the chip offers PACE."""
        return "PACE" in self.access

    @property
    def rsa_bits(self) -> int | None:
        """The RSA key size the chip holds when RSA is its only Active Authentication key type, else None."""
        kinds = {kind for kind, _ in self.aa_keys}
        return self.aa_keys[0][1] if kinds == {"rsa"} else None

    @property
    def protected_files(self) -> frozenset[str]:
        """Names of the files a reader cannot have before Terminal Authentication."""
        return frozenset(lds_files.DATA_GROUPS[number].name for number in self.protected_groups)

    def problems(self, image: CardImage) -> list[str]:
        """Why ``image`` cannot be put on this chip, one reason per item; empty when it can."""
        if image.secrets is None:
            return ["it is a dump (files only): encoding needs a card image with its chip secrets"]
        found = [*self._file_problems(image.files), *self._aa_problems(image)]
        infos = _security_infos(image.files)
        if not self.pace and any(info.pace_infos for info in infos):
            found.append(f"it offers PACE (a PACEInfo in EF.CardAccess or DG14): {self.name} offers "
                         f"{'/'.join(sorted(self.access))} only")
        if not self.chip_authentication and any(info.chip_authentication_public_key_infos for info in infos):
            found.append(f"DG14 announces Chip Authentication: {self.name} cannot be given a Chip Authentication key")
        return found

    def check(self, image: CardImage) -> None:
        """Raise :class:`TargetError` naming every reason ``image`` cannot be put on this chip."""
        found = self.problems(image)
        if found:
            label = image.label or "the card image"
            raise TargetError(f"{label} cannot be encoded on a {self.name} chip: " + "; ".join(found)
                              + f" (make it with 'cardtool perso --target {self.name}')")

    def _file_problems(self, files: Mapping[str, bytes]) -> list[str]:
        found = []
        if not self.master_file and lds_files.EF_CARD_ACCESS.name in files:
            found.append(f"it has EF.CardAccess: {self.name} has no master file to hold it")
        for name, content in files.items():
            if len(content) > self.max_file_bytes:
                found.append(f"{name} has {len(content):,} bytes: {self.name} holds files of at most "
                             f"{self.max_file_bytes:,} bytes")
        return found

    def _aa_problems(self, image: CardImage) -> list[str]:
        assert image.secrets is not None
        key = image.secrets.aa_private_key
        if key is None:
            return ["DG15 is there but the image has no Active Authentication private key"] \
                if "DG15" in image.files else []
        described = _key_kind(key)
        if not self.aa_keys or described in self.aa_keys:
            return []
        allowed = ", ".join(f"{kind.upper()}-{bits}" for kind, bits in self.aa_keys)
        return [f"its Active Authentication key is {described[0].upper()}-{described[1]}: {self.name} signs "
                f"with {allowed} only"]


def _key_kind(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[KeyType, int]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa", key.key_size
    return "ec", key.curve.key_size


def _security_infos(files: Mapping[str, bytes]) -> list[SecurityInfos]:
    """The decoded EF.CardAccess and DG14 of ``files`` (one that does not decode is left to the verifier)."""
    found: list[SecurityInfos] = []
    for name, decode in ((lds_files.EF_CARD_ACCESS.name, CardAccess.decode), ("DG14", DG14.decode)):
        if name in files:
            try:
                found.append(decode(files[name]))
            except CardlibError:
                continue
    return found


JMRTD_APPLET = ChipTarget(
    name="jmrtd-applet",
    summary="JMRTD's open passport applet on a Java Card: BAC (3DES) only, RSA-1024 Active Authentication, "
            "no PACE, no master file, DG3/DG4 refused before Terminal Authentication",
    access=frozenset({"BAC"}),
    bac_cipher="3DES",
    aa_keys=(("rsa", 1024),),
    chip_authentication=False,
    master_file=False,
    protected_groups=frozenset({3, 4}),
    max_file_bytes=0x7FFF,  # the applet addresses file contents with signed 16-bit (Java short) offsets
    aa_hash="sha1",  # Signature.ALG_RSA_SHA_ISO9796: ISO 9796-2 with SHA-1
)

CCCD_VIRTUAL = ChipTarget(
    name="cccd-virtual",
    summary="cardlib's virtual CCCD chip (today's default): BAC and PACE, Chip Authentication, any AA key",
    access=frozenset({"BAC", "PACE"}),
    bac_cipher="3DES",
    aa_keys=(),
    chip_authentication=True,
    master_file=True,
    protected_groups=frozenset({3, 4}),
    max_file_bytes=0xFFFF,
)

TARGETS: dict[str, ChipTarget] = {target.name: target for target in (JMRTD_APPLET, CCCD_VIRTUAL)}


def target_named(name: str) -> ChipTarget:
    """The chip target called ``name``; TargetError listing the known ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise TargetError(f"no chip target {name!r} (known: {', '.join(TARGETS)})") from None
