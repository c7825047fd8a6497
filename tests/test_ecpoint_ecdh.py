"""ECDH's two paths: cryptography (OpenSSL) where it supports the curve, python-ecdsa elsewhere.

On every curve both support, the two agree on random scalars, and refuse the same invalid peer points with the
same ProtocolError; :func:`ecpoint.shared_secret` takes cryptography's path there and python-ecdsa's only on the
curves cryptography lacks.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from vectors import vector_json

from cardlib.curves import CURVES, Curve, by_name, by_parameter_id
from cardlib.errors import PKIError, ProtocolError
from cardlib.protocols import ecpoint

Path = Callable[..., bytes]
PATHS: dict[str, Path] = {"cryptography": ecpoint.shared_secret_cryptography,
                          "python-ecdsa": ecpoint.shared_secret_python_ecdsa}
SUPPORTED = [curve for curve in CURVES if curve.crypto_curve is not None]
UNSUPPORTED = [curve for curve in CURVES if curve.crypto_curve is None]


def _public(curve: Curve, scalar: int) -> bytes:
    return ecpoint.encode_point(curve, ecpoint.multiply(ecpoint.generator(curve), scalar))


def _coordinates(point: bytes, size: int) -> tuple[int, int]:
    return int.from_bytes(point[1 : 1 + size], "big"), int.from_bytes(point[1 + size :], "big")


def _uncompressed(curve: Curve, x: int, y: int) -> bytes:
    size = curve.field_bytes
    return b"\x04" + x.to_bytes(size, "big") + y.to_bytes(size, "big")


def _invalid_points(curve: Curve) -> dict[str, bytes]:
    """Encodings no ECDH may accept: malformed, off the curve, coordinates not reduced mod p, infinity."""
    size = curve.field_bytes
    good = _public(curve, 7)
    x, y = _coordinates(good, size)
    points = {
        "infinity": b"\x00",
        "compressed": bytes([2 + (y & 1)]) + good[1 : 1 + size],
        "truncated": good[:-1],
        "hybrid prefix": b"\x06" + good[1:],
        "off the curve": _uncompressed(curve, x, (y + 1) % curve.p),
        "origin": _uncompressed(curve, 0, 0),
        "x = p": _uncompressed(curve, curve.p, y),
    }
    if y + curve.p < 1 << (8 * size):  # the same point with y not reduced mod p, where it fits in the field length
        points["y + p"] = _uncompressed(curve, x, y + curve.p)
    return points


@pytest.mark.parametrize("curve", SUPPORTED, ids=lambda curve: curve.name)
def test_paths_agree_on_random_scalars(curve: Curve) -> None:
    rng = random.Random(curve.name)
    for _ in range(4):
        mine, theirs = rng.randrange(1, curve.n), rng.randrange(1, curve.n)
        secrets = {name: path(curve, mine, _public(curve, theirs)) for name, path in PATHS.items()}
        assert secrets["cryptography"] == secrets["python-ecdsa"]
        assert secrets["cryptography"] == ecpoint.shared_secret(curve, theirs, _public(curve, mine))
        assert len(secrets["cryptography"]) == curve.field_bytes


@pytest.mark.parametrize("curve", SUPPORTED, ids=lambda curve: curve.name)
def test_paths_agree_with_cryptography_key_exchange(curve: Curve) -> None:
    key = ec.generate_private_key(curve.require_crypto_curve())
    theirs = random.Random(curve.name).randrange(1, curve.n)
    expected = key.exchange(ec.ECDH(), ec.derive_private_key(theirs, curve.require_crypto_curve()).public_key())
    mine = key.private_numbers().private_value
    assert all(path(curve, mine, _public(curve, theirs)) == expected for path in PATHS.values())


@pytest.mark.parametrize("curve", SUPPORTED, ids=lambda curve: curve.name)
def test_invalid_peer_points_refused_alike(curve: Curve) -> None:
    for case, point in _invalid_points(curve).items():
        messages = set()
        for path in PATHS.values():
            with pytest.raises(ProtocolError) as refused:
                path(curve, 5, point, what="terminal key")
            messages.add(str(refused.value))
        with pytest.raises(ProtocolError) as decoded:
            ecpoint.decode_point(curve, point, what="terminal key")
        assert messages == {str(decoded.value)}, case


@pytest.mark.parametrize("curve", [by_name("brainpoolP256r1"), by_name("secp521r1")], ids=lambda curve: curve.name)
def test_scalars_act_modulo_the_order(curve: Curve) -> None:
    peer = _public(curve, 3)
    for path in PATHS.values():
        assert path(curve, curve.n + 11, peer) == path(curve, 11, peer)
        for multiple in (0, curve.n, 2 * curve.n):
            with pytest.raises(ProtocolError, match="infinity"):
                path(curve, multiple, peer)


def test_icao_worked_example_on_both_paths() -> None:
    """ICAO 9303-11 App. G.1: K of PACE-ECDH-GM on brainpoolP256r1, the terminal's and the chip's way round."""
    example = vector_json("pace_ecdh_gm_icao_9303_11_app_g1.json")
    curve = by_parameter_id(13)
    expected = bytes.fromhex(example["shared_secret"])
    for path in PATHS.values():
        assert path(curve, int(example["terminal_ephemeral_sk"], 16),
                    bytes.fromhex(example["chip_ephemeral_pk"])) == expected
        assert path(curve, int(example["chip_ephemeral_sk"], 16),
                    bytes.fromhex(example["terminal_ephemeral_pk"])) == expected


@pytest.mark.parametrize("curve", UNSUPPORTED, ids=lambda curve: curve.name)
def test_curves_cryptography_lacks_take_python_ecdsa(curve: Curve) -> None:
    peer = _public(curve, 9)
    assert ecpoint.shared_secret(curve, 4, peer) == ecpoint.shared_secret_python_ecdsa(curve, 4, peer)
    assert ecpoint.shared_secret(curve, 4, peer) == ecpoint.shared_secret(curve, 9, _public(curve, 4))
    with pytest.raises(PKIError):
        ecpoint.shared_secret_cryptography(curve, 4, peer)
    with pytest.raises(ProtocolError):
        ecpoint.shared_secret(curve, 4, _invalid_points(curve)["off the curve"])


def test_supported_curves_take_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatch: a supported curve never reaches python-ecdsa's arithmetic."""
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("python-ecdsa path taken")

    monkeypatch.setattr(ecpoint, "shared_secret_python_ecdsa", refuse)
    curve = by_name("brainpoolP256r1")
    assert ecpoint.shared_secret(curve, 2, _public(curve, 3)) == ecpoint.shared_secret(curve, 3, _public(curve, 2))
