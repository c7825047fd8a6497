"""The files of a trust store: PEM/DER certificates and CRLs and CMS master lists, each read within its size
budget, sorted into what can be used and what is reported (:class:`~cardlib.pki.masterlist.LoadIssue`).

Nothing here decides trust: the certificates of files are the candidate anchors and the master lists are
anchored or not by :mod:`cardlib.pki.anchoring`, in :class:`~cardlib.pki.trust.TrustStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cardlib.errors import PKIError
from cardlib.limits import MAX_MASTER_LIST_BYTES, MAX_TRUST_FILE_BYTES, LimitExceeded
from cardlib.pki.certificates import Certificate, RevocationList, pem_blocks
from cardlib.pki.masterlist import LoadIssue, MasterList

_SIGNED_DATA_OID_DER = bytes.fromhex("06092a864886f70d010702")
_MASTER_LIST_SUFFIXES = (".ml", ".p7b", ".p7m", ".p7c")


def load_trust_files(*paths: Path | str) -> TrustFiles:
    """What the files and folders (searched recursively) hold; PKIError for a path that does not exist."""
    files = TrustFiles()
    for path in map(Path, paths):
        if not path.exists():
            raise PKIError(f"{path}: no such file or folder")
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                files.load_file(file)
    return files


class TrustFiles:
    """Collects what the files of a trust store hold, and what could not be used."""

    def __init__(self) -> None:
        self.cscas: list[Certificate] = []
        self.crls: list[RevocationList] = []
        self.master_lists: list[MasterList] = []
        self.issues: list[LoadIssue] = []

    def load_file(self, path: Path) -> None:
        """Add what the file at ``path`` holds; what cannot be read or used becomes an issue."""
        source = str(path)
        try:
            data = _read_bounded(path)
            for kind, der in self._items(data, path):
                self._add(kind, der, source)
        except (PKIError, LimitExceeded) as error:
            self.issues.append(LoadIssue(source, str(error)))

    @staticmethod
    def _items(data: bytes, path: Path) -> Iterator[tuple[str, bytes]]:
        if data.lstrip().startswith(b"-----BEGIN"):
            yield from pem_blocks(data)
        elif _is_master_list(path, data):
            yield "CMS", data
        else:
            yield "DER", data

    def _add(self, kind: str, der: bytes, source: str) -> None:
        if kind in ("CMS", "PKCS7"):
            self._add_master_list(MasterList.parse(der, source))
        elif kind == "CERTIFICATE":
            self._add_certificate(Certificate.from_der(der), source)
        elif kind == "X509 CRL":
            self.crls.append(RevocationList.from_der(der))
        elif kind == "DER":
            self._add_der(der, source)
        else:
            self.issues.append(LoadIssue(source, f"PEM block {kind!r} ignored"))

    def _add_der(self, der: bytes, source: str) -> None:
        try:
            certificate = Certificate.from_der(der)
        except PKIError:
            try:
                self.crls.append(RevocationList.from_der(der))
            except PKIError as error:
                raise PKIError("neither a certificate, a CRL nor a master list") from error
            return
        self._add_certificate(certificate, source)

    def _add_certificate(self, certificate: Certificate, source: str) -> None:
        if not _is_ca(certificate):
            self.issues.append(LoadIssue(source, "not a CA certificate, not a trust anchor", certificate.subject))
            return
        try:
            certificate.public_key  # noqa: B018 - building the key is the check
        except PKIError as error:
            self.issues.append(LoadIssue(source, f"unusable key, not trusted: {error}", certificate.subject))
            return
        self.cscas.append(certificate)

    def _add_master_list(self, master_list: MasterList) -> None:
        self.master_lists.append(master_list)



def _is_ca(certificate: Certificate) -> bool:
    return certificate.is_ca or "key_cert_sign" in certificate.key_usage



def _is_master_list(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in _MASTER_LIST_SUFFIXES or _SIGNED_DATA_OID_DER in head[:32]


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refused with LimitExceeded before reading when over its budget: MAX_MASTER_LIST_BYTES
    for master lists, MAX_TRUST_FILE_BYTES for certificates and CRLs (the size is taken with stat, and at
    most one byte more than the budget is ever read, should the file grow meanwhile)."""
    try:
        size = path.stat().st_size
        if size > max(MAX_MASTER_LIST_BYTES, MAX_TRUST_FILE_BYTES):
            raise LimitExceeded(*_budget(path, b""), size)
        with path.open("rb") as handle:
            head = handle.read(32)
            budget, what, limit = _budget(path, head)
            data = head + handle.read(limit + 1 - len(head))
    except OSError as error:
        raise PKIError(f"{path}: cannot read ({error.strerror})") from error
    if len(data) > limit:
        raise LimitExceeded(budget, what, limit, max(size, len(data)))
    return data


def _budget(path: Path, head: bytes) -> tuple[str, str, int]:
    """The size budget of a trust file (name, what, limit): master lists have their own."""
    if _is_master_list(path, head):
        return "MAX_MASTER_LIST_BYTES", str(path), MAX_MASTER_LIST_BYTES
    return "MAX_TRUST_FILE_BYTES", str(path), MAX_TRUST_FILE_BYTES


__all__ = ["TrustFiles", "load_trust_files"]
