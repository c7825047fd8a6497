"""CardImage: everything a CCCD chip holds after personalization, and its on-disk format.

A *card image* is the files of the chip plus the chip's secrets (Active and Chip Authentication private
keys, the access keys derived from the MRZ and the CAN).  A *dump* is the files alone: what a reader can
get off a chip, and what a verifier checks.

On disk a card image is a directory::

    card.json            manifest: format, kind ("image" | "dump"), and for each file its name and SHA-256
    EF.COM.bin  DG1.bin  DG2.bin  ...  EF.SOD.bin  EF.CardAccess.bin
    secrets/             (images only, mode 0700)
        access.json      {"mrz_information": ..., "can": ..., "ca_key_id": ...}
        aa.key.pem       Active Authentication private key (PKCS#8)
        ca.key.pem       Chip Authentication private key (PKCS#8)
        eac.json         Terminal Authentication: {"current_date": ..., "trusted_cvca": [CV certificate hex]}

The directory is written next to its final place and renamed into it, so an interrupted write never
leaves a directory that looks complete.  Loading checks every file against the manifest's hash.
:meth:`CardImage.load` also reads plain folders of LDS files as other tools name them (``EF_COM.bin``,
``Datagroup1.bin``, ``ef0101.bin``), so dumps made elsewhere verify as they are.

A dump comes from anyone, so every file of a card folder is read by :func:`read_card_file`: regular files
only (a symbolic link, wherever it points, a FIFO, a device or a socket is refused without reading it, so
nothing blocks), at most MAX_FILE_BYTES each and MAX_CARD_BYTES for the card (:mod:`cardlib.limits`).
Refusing every link is the simplest rule that cannot be talked round: a link inside the folder today may
point outside it tomorrow.  The folder itself may be a link; the operator named it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.errors import CardlibError, DecodeError
from cardlib.lds import files as lds_files
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, LimitExceeded
from cardlib.pki.cvc.certificate import CVCertificate

FORMAT = "cardlib-card-image/1"
MANIFEST = "card.json"
SECRETS_DIR = "secrets"
EAC_FILE = "eac.json"

AAPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CardImageError(CardlibError):
    """A card image or dump directory that cannot be read or written."""


@dataclass(frozen=True)
class ChipSecrets:
    """What a chip keeps to itself: access keys and the private keys of Active and Chip Authentication.

    ``trusted_cvca`` are the CVCA certificates whose keys the chip trusts for Terminal Authentication (one, or
    two during a CVCA rollover; none: DG3/DG4 are never released) and ``eac_date`` its current date, the
    personalization date it starts from (TR-03110-1 2.7); both are configuration, not secret.
    """

    mrz_information: str
    can: str
    aa_private_key: AAPrivateKey | None
    ca_private_key: ec.EllipticCurvePrivateKey | None
    ca_key_id: int | None = None
    trusted_cvca: tuple[CVCertificate, ...] = ()
    eac_date: date | None = None

    def __repr__(self) -> str:
        return "ChipSecrets(<hidden>)"


@dataclass(frozen=True)
class CardImage:
    """The files of a chip keyed by :class:`~cardlib.lds.files.FileSpec` name, and its secrets (None in a dump)."""

    files: Mapping[str, bytes]
    secrets: ChipSecrets | None = None
    label: str = ""

    def __post_init__(self) -> None:
        unknown = [name for name in self.files if not lds_files.is_file_name(name)]
        if unknown:
            raise CardImageError(f"unknown file names {unknown}: use names like 'DG1', 'EF.SOD', 'EF.CardAccess'")
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @property
    def is_dump(self) -> bool:
        """True when this holds the files only."""
        return self.secrets is None

    def dump(self) -> CardImage:
        """The files alone, as a reader would get them off the chip."""
        return CardImage(self.files, None, self.label)

    def file(self, name: str) -> bytes | None:
        """The bytes of file ``name`` or None when the card has no such file."""
        return self.files.get(name)

    def save(self, path: Path) -> None:
        """Write the image to directory ``path`` atomically (it must not exist yet, or be a card image).

        A write that fails (a full disk, a read-only folder) raises CardImageError and leaves nothing behind.
        """
        path = Path(path)
        if path.exists() and not (path / MANIFEST).is_file():
            raise CardImageError(f"{path} exists and is not a card image: refusing to overwrite it")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        except OSError as exc:
            raise CardImageError(f"{path}: cannot write the card image ({exc.strerror or exc})") from None
        try:
            self._write_into(staging)
            if path.exists():
                shutil.rmtree(path)
            staging.rename(path)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):  # a full disk, a read-only folder: nothing half-written is left
                raise CardImageError(f"{path}: cannot write the card image ({exc.strerror or exc})") from None
            raise

    def _write_into(self, folder: Path) -> None:
        entries = {}
        for name, data in sorted(self.files.items()):
            (folder / f"{name}.bin").write_bytes(data)
            entries[name] = hashlib.sha256(data).hexdigest()
        manifest = {"format": FORMAT, "kind": "dump" if self.is_dump else "image", "label": self.label,
                    "files": entries}
        if self.secrets is not None:
            _write_secrets(folder / SECRETS_DIR, self.secrets)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CardImage:
        """Read a card image or dump directory (ours, or a plain folder of LDS files)."""
        path = Path(path)
        if not path.is_dir():
            raise CardImageError(f"{path}: not a directory")
        if (path / MANIFEST).is_file():
            return _load_ours(path)
        return _load_foreign(path)


def _write_secrets(folder: Path, secrets: ChipSecrets) -> None:
    folder.mkdir(mode=0o700)
    access = {"mrz_information": secrets.mrz_information, "can": secrets.can, "ca_key_id": secrets.ca_key_id}
    _write_private(folder / "access.json", json.dumps(access, indent=2).encode() + b"\n")
    if secrets.trusted_cvca:
        eac = {"current_date": secrets.eac_date.isoformat() if secrets.eac_date else None,
               "trusted_cvca": [certificate.encode().hex() for certificate in secrets.trusted_cvca]}
        _write_private(folder / EAC_FILE, json.dumps(eac, indent=2).encode() + b"\n")
    for filename, key in (("aa.key.pem", secrets.aa_private_key), ("ca.key.pem", secrets.ca_private_key)):
        if key is not None:
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            _write_private(folder / filename, pem)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


_FILE_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
               (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _refuse_irregular(path: Path, mode: int) -> None:
    """CardImageError naming what ``path`` is, unless ``mode`` is a regular file's."""
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    raise CardImageError(f"{path}: {kind}, refused (a card's files must be regular files)")


def read_card_file(path: Path, limit: int = MAX_FILE_BYTES, *, missing: str = "") -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (MAX_FILE_BYTES unless told).

    Checked with lstat before opening (a device is never opened), opened without following a link and
    without blocking, checked again on the open descriptor, and read at most ``limit + 1`` bytes.
    CardImageError for a missing (``missing`` says why it should be there) or irregular file, LimitExceeded
    for a larger one.
    """
    try:
        _refuse_irregular(path, os.lstat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CardImageError(f"{path}: {missing or 'cannot be read (no such file)'}") from None
    except OSError as exc:
        reason = "a symbolic link, refused" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise CardImageError(f"{path}: cannot be read ({reason})") from None
    try:
        _refuse_irregular(path, os.fstat(fd).st_mode)
        data = _read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise LimitExceeded("MAX_FILE_BYTES", str(path), limit)
    return data


def _read_at_most(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``fd``, to its end (a regular file gives them in one read, most often)."""
    parts, remaining = [], size
    while remaining > 0 and (part := os.read(fd, remaining)):
        parts.append(part)
        remaining -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _CardReader:
    """Reads the files of one card folder within MAX_FILE_BYTES each and MAX_CARD_BYTES together."""

    def __init__(self) -> None:
        self.total = 0

    def read(self, path: Path, *, missing: str = "") -> bytes:
        """The bytes of ``path`` (see :func:`read_card_file`), counted against the card's budget."""
        remaining = MAX_CARD_BYTES - self.total
        try:
            data = read_card_file(path, min(remaining, MAX_FILE_BYTES), missing=missing)
        except LimitExceeded:
            if remaining >= MAX_FILE_BYTES:
                raise
            raise LimitExceeded("MAX_CARD_BYTES", f"{path.parent} (its files up to {path.name})",
                                MAX_CARD_BYTES) from None
        self.total += len(data)
        return data


def _load_ours(path: Path) -> CardImage:
    try:
        manifest = json.loads(read_card_file(path / MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardImageError(f"{path / MANIFEST}: unreadable manifest ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CardImageError(f"{path / MANIFEST}: not a {FORMAT} manifest")
    files, reader = {}, _CardReader()
    for name, digest in dict(manifest.get("files", {})).items():
        if not lds_files.is_file_name(str(name)):
            raise CardImageError(f"{path / MANIFEST}: lists {name!r}, which is not an LDS file name")
        target = path / f"{name}.bin"
        data = reader.read(target, missing="listed in the manifest but missing")
        if hashlib.sha256(data).hexdigest() != digest:
            raise CardImageError(f"{target}: content does not match the manifest's SHA-256 (file altered or torn)")
        files[name] = data
    secrets = _load_secrets(path / SECRETS_DIR) if manifest.get("kind") == "image" else None
    return CardImage(files, secrets, str(manifest.get("label", "")))


def _load_secrets(folder: Path) -> ChipSecrets:
    try:
        access = json.loads(read_card_file(folder / "access.json"))
        trusted_cvca, eac_date = _load_eac(folder / EAC_FILE)
        return ChipSecrets(
            mrz_information=str(access["mrz_information"]),
            can=str(access["can"]),
            aa_private_key=_load_key(folder / "aa.key.pem", (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)),
            ca_private_key=_load_ec_key(folder / "ca.key.pem"),
            ca_key_id=access.get("ca_key_id"),
            trusted_cvca=trusted_cvca,
            eac_date=eac_date,
        )
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardImageError(f"{folder}: chip secrets unreadable ({exc.__class__.__name__})") from None


def _load_eac(path: Path) -> tuple[tuple[CVCertificate, ...], date | None]:
    """The chip's trusted CVCA certificates and current date; none when the file is absent."""
    if not os.path.lexists(path):
        return (), None
    eac = json.loads(read_card_file(path))
    try:
        trusted = tuple(CVCertificate.decode(bytes.fromhex(text)) for text in eac["trusted_cvca"])
        current = date.fromisoformat(eac["current_date"]) if eac.get("current_date") else None
    except (ValueError, CardlibError) as exc:
        raise CardImageError(f"{path}: unreadable Terminal Authentication configuration ({exc})") from None
    return trusted, current


def _load_key(path: Path, kinds: tuple[type, ...]) -> AAPrivateKey | None:
    if not os.path.lexists(path):
        return None
    try:
        key = serialization.load_pem_private_key(read_card_file(path), password=None)
    except ValueError:
        raise CardImageError(f"{path}: not a PEM private key") from None
    if not isinstance(key, kinds):
        raise CardImageError(f"{path}: unsupported key type {type(key).__name__}")
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def _load_ec_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    key = _load_key(path, (ec.EllipticCurvePrivateKey,))
    assert key is None or isinstance(key, ec.EllipticCurvePrivateKey)
    return key


# Names other tools give LDS files: JMRTD's test folders, FID-named dumps (ef0101.bin), DG1.bin.
_FOREIGN_NAMES = (
    (re.compile(r"^(?:ef[_.]?)?com(?:\.bin)?$", re.I), "EF.COM"),
    (re.compile(r"^(?:ef[_.]?)?sod(?:\.bin)?$", re.I), "EF.SOD"),
    (re.compile(r"^(?:ef[_.]?)?cardaccess(?:\.bin)?$", re.I), "EF.CardAccess"),
    (re.compile(r"^(?:datagroup|dg)(\d{1,2})(?:\.bin)?$", re.I), "DG{}"),
)


def foreign_file_name(filename: str) -> str | None:
    """Our name for an LDS file called ``filename`` by another tool, or None when it is not one."""
    fid_match = re.fullmatch(r"(?:ef)?([0-9a-f]{4})(?:\.bin)?", filename, re.I)
    if fid_match:
        spec = lds_files.by_fid(int(fid_match.group(1), 16))
        return spec.name if spec else None
    for pattern, name in _FOREIGN_NAMES:
        match = pattern.fullmatch(filename)
        if match:
            return name.format(int(match.group(1))) if match.groups() else name
    return None


def _load_foreign(path: Path) -> CardImage:
    files: dict[str, bytes] = {}
    reader = _CardReader()
    for entry in sorted(path.iterdir()):
        name = foreign_file_name(entry.name)
        if name is None or not lds_files.is_file_name(name):
            continue
        if name in files:
            raise CardImageError(f"{path}: two files hold {name}")
        files[name] = reader.read(entry)
    if not files:
        raise DecodeError("no LDS files found (expected card.json, or files like EF_COM.bin, DG1.bin)",
                          file=str(path))
    return CardImage(files, None, path.name)
