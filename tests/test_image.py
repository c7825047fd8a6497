"""CardImage on-disk format: round trips, integrity, secrets kept out of reprs, foreign dump folders."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardlib.card.image import CardImage, CardImageError, ChipSecrets, foreign_file_name, read_card_file
from cardlib.errors import DecodeError
from cardlib.limits import MAX_CARD_BYTES, MAX_FILE_BYTES, LimitExceeded


def _image() -> CardImage:
    secrets = ChipSecrets(
        mrz_information="T22000129364081251010318",
        can="123456",
        aa_private_key=rsa.generate_private_key(65537, 1024),
        ca_private_key=ec.generate_private_key(ec.BrainpoolP256R1()),
        ca_key_id=7,
    )
    return CardImage({"EF.COM": b"\x60\x00", "DG1": b"\x61\x01\x00", "EF.SOD": b"\x77\x00"}, secrets, "r01")


def test_image_round_trips_with_secrets(tmp_path: Path) -> None:
    image = _image()
    image.save(tmp_path / "card")
    loaded = CardImage.load(tmp_path / "card")
    assert dict(loaded.files) == dict(image.files)
    assert loaded.label == "r01"
    assert loaded.secrets is not None and image.secrets is not None
    assert loaded.secrets.can == "123456" and loaded.secrets.ca_key_id == 7
    assert loaded.secrets.ca_private_key is not None and image.secrets.ca_private_key is not None
    assert loaded.secrets.ca_private_key.private_numbers() == image.secrets.ca_private_key.private_numbers()
    assert stat.S_IMODE((tmp_path / "card" / "secrets" / "aa.key.pem").stat().st_mode) == 0o600


def test_dump_has_no_secrets_on_disk(tmp_path: Path) -> None:
    _image().dump().save(tmp_path / "dump")
    assert not (tmp_path / "dump" / "secrets").exists()
    loaded = CardImage.load(tmp_path / "dump")
    assert loaded.is_dump
    assert json.loads((tmp_path / "dump" / "card.json").read_text())["kind"] == "dump"


def test_secrets_never_in_repr() -> None:
    image = _image()
    assert "123456" not in repr(image)
    assert "T22000129" not in repr(image)


def test_altered_file_is_detected(tmp_path: Path) -> None:
    _image().save(tmp_path / "card")
    (tmp_path / "card" / "DG1.bin").write_bytes(b"\x61\x01\x01")
    with pytest.raises(CardImageError, match=r"DG1\.bin.*SHA-256"):
        CardImage.load(tmp_path / "card")


def test_missing_file_is_detected(tmp_path: Path) -> None:
    _image().save(tmp_path / "card")
    (tmp_path / "card" / "EF.SOD.bin").unlink()
    with pytest.raises(CardImageError, match="missing"):
        CardImage.load(tmp_path / "card")


def test_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(CardImageError, match="refusing"):
        _image().save(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_unknown_file_name_rejected() -> None:
    with pytest.raises(CardImageError, match="unknown file names"):
        CardImage({"DG99": b""})


@pytest.mark.parametrize(
    ("filename", "name"),
    [("EF_COM.bin", "EF.COM"), ("Datagroup14.bin", "DG14"), ("ef0101.bin", "DG1"), ("ef011D.bin", "EF.SOD"),
     ("DG13.bin", "DG13"), ("EF.CardAccess.bin", "EF.CardAccess"), ("README.md", None), ("ef9999.bin", None)],
)
def test_foreign_names(filename: str, name: str | None) -> None:
    assert foreign_file_name(filename) == name


def test_loads_public_test_dumps(shared_data: Path) -> None:
    bsi = CardImage.load(shared_data / "bsi2008")
    assert {"EF.COM", "EF.SOD", "DG1", "DG2", "DG3", "DG14"} <= set(bsi.files)
    assert bsi.files["EF.COM"].startswith(b"\x60\x16")
    loes = CardImage.load(shared_data / "loes2006")
    assert set(loes.files) == {"EF.COM", "EF.SOD", "DG1", "DG2", "DG15"}


def test_empty_folder_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="no LDS files"):
        CardImage.load(tmp_path)


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)  # no disk blocks: the reader must stop at the budget, not at the end


def test_file_over_the_file_budget_is_refused_naming_it(tmp_path: Path) -> None:
    _image().dump().save(tmp_path / "card")
    _sparse(tmp_path / "card" / "DG1.bin", MAX_FILE_BYTES + 1)
    with pytest.raises(LimitExceeded) as caught:
        CardImage.load(tmp_path / "card")
    assert caught.value.budget == "MAX_FILE_BYTES" and caught.value.what == str(tmp_path / "card" / "DG1.bin")


def test_card_over_the_card_budget_is_refused(tmp_path: Path) -> None:
    count = MAX_CARD_BYTES // MAX_FILE_BYTES + 1
    for number in range(1, count + 1):
        _sparse(tmp_path / f"DG{number}.bin", MAX_FILE_BYTES)
    with pytest.raises(LimitExceeded, match="MAX_CARD_BYTES") as caught:
        CardImage.load(tmp_path)
    assert str(tmp_path) in caught.value.what


def test_manifest_naming_a_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    _image().dump().save(tmp_path / "card")
    manifest = json.loads((tmp_path / "card" / "card.json").read_text())
    manifest["files"]["../../outside"] = "00"
    (tmp_path / "card" / "card.json").write_text(json.dumps(manifest))
    with pytest.raises(CardImageError, match="not an LDS file name"):
        CardImage.load(tmp_path / "card")


@pytest.mark.parametrize("kind", ["directory", "link inside", "socket"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    _image().dump().save(tmp_path / "card")
    target = tmp_path / "card" / "DG1.bin"
    target.unlink()
    if kind == "directory":
        target.mkdir()
    elif kind == "link inside":  # refused too: every link is, wherever it points
        target.symlink_to(tmp_path / "card" / "EF.COM.bin")
    else:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(target))
    expected = {"directory": "a directory", "link inside": "a symbolic link", "socket": "a socket"}[kind]
    with pytest.raises(CardImageError, match=f"DG1.bin: {expected}, refused"):
        CardImage.load(tmp_path / "card")


def test_read_card_file_reads_a_regular_file_up_to_its_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    assert read_card_file(tmp_path / "f", 5) == b"12345"
    with pytest.raises(LimitExceeded):
        read_card_file(tmp_path / "f", 4)
    with pytest.raises(CardImageError, match="cannot be read"):
        read_card_file(tmp_path / "missing")
