"""The two kinds of PACE group behind one interface: an elliptic curve (ECDH) or a MODP subgroup (DH).

PACE's steps are the same for both; only the arithmetic and the encodings differ.  An element is a
python-ecdsa ``PointJacobi`` or an ``int``; the protocol never looks inside one, it only passes elements
back to the group that made them.  Every element received from the other side is validated by
:meth:`PACEGroup.decode` (on the curve / in the prime-order subgroup), never used raw.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ecdsa.ellipticcurve import PointJacobi

from cardlib.curves import Curve, ModpGroup
from cardlib.protocols import dh, ecpoint
from cardlib.protocols.pace.integrated import point_encoding, subgroup_encoding

Element = TypeVar("Element")
Rng = Callable[[int], bytes]
TAG_DH_PUBLIC_VALUE = 0x84
TAG_EC_PUBLIC_POINT = 0x86


class PACEGroup(ABC, Generic[Element]):
    """Arithmetic, encodings and mappings of the group a PACEInfo's parameter ID selects."""

    token_tag: int
    """Tag of the public key inside the authentication token's 7F49 (ICAO 9303-11 §9.4.3/§9.4.4)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The group's standard name."""

    @property
    @abstractmethod
    def modulus(self) -> int:
        """The prime p of the underlying field (R_p's modulus)."""

    @property
    @abstractmethod
    def order(self) -> int:
        """The prime order of the generator (n or q): private keys live in [1, order-1]."""

    @abstractmethod
    def generator(self) -> Element:
        """The group's standard generator."""

    @abstractmethod
    def random_private(self, rng: Rng) -> int:
        """A private scalar/exponent in [1, order-1]."""

    @abstractmethod
    def multiply(self, element: Element, scalar: int) -> Element:
        """``scalar`` applied to ``element`` (k·P or g^k); ProtocolError on the neutral element."""

    @abstractmethod
    def combine(self, left: Element, right: Element) -> Element:
        """The group operation (P + Q or g·h); ProtocolError on the neutral element."""

    @abstractmethod
    def encode(self, element: Element) -> bytes:
        """The public-key encoding sent in GENERAL AUTHENTICATE and MACed in the tokens."""

    @abstractmethod
    def decode(self, data: bytes, *, what: str) -> Element:
        """A validated element received from the other side; ProtocolError when invalid."""

    @abstractmethod
    def agree(self, private: int, peer: bytes, *, what: str) -> bytes:
        """The shared secret K of ``private`` with a received public key (the x-coordinate of private·peer, or
        the padded peer^private); ProtocolError when the key is invalid."""

    @abstractmethod
    def map_integrated(self, field_element: int) -> Element:
        """f_G / f_g of the integrated mapping."""

    def public_key(self, generator: Element, private: int) -> bytes:
        """The encoded public key ``private`` applied to ``generator``."""
        return self.encode(self.multiply(generator, private))


class ECGroup(PACEGroup[PointJacobi]):
    """ECDH on a standardized curve."""

    token_tag = TAG_EC_PUBLIC_POINT

    def __init__(self, curve: Curve) -> None:
        self.curve = curve

    @property
    def name(self) -> str:
        return self.curve.name

    @property
    def modulus(self) -> int:
        return self.curve.p

    @property
    def order(self) -> int:
        return self.curve.n

    def generator(self) -> PointJacobi:
        return ecpoint.generator(self.curve)

    def random_private(self, rng: Rng) -> int:
        return ecpoint.random_scalar(self.curve, rng)

    def multiply(self, element: PointJacobi, scalar: int) -> PointJacobi:
        return ecpoint.multiply(element, scalar)

    def combine(self, left: PointJacobi, right: PointJacobi) -> PointJacobi:
        return ecpoint.add(left, right)

    def encode(self, element: PointJacobi) -> bytes:
        return ecpoint.encode_point(self.curve, element)

    def decode(self, data: bytes, *, what: str) -> PointJacobi:
        return ecpoint.decode_point(self.curve, data, what=what)

    def agree(self, private: int, peer: bytes, *, what: str) -> bytes:
        return ecpoint.shared_secret(self.curve, private, peer, what=what)

    def map_integrated(self, field_element: int) -> PointJacobi:
        return point_encoding(self.curve, field_element)


class DHGroup(PACEGroup[int]):
    """DH in a standardized MODP group."""

    token_tag = TAG_DH_PUBLIC_VALUE

    def __init__(self, group: ModpGroup) -> None:
        self.group = group

    @property
    def name(self) -> str:
        return self.group.name

    @property
    def modulus(self) -> int:
        return self.group.p

    @property
    def order(self) -> int:
        return self.group.q

    def generator(self) -> int:
        return self.group.g

    def random_private(self, rng: Rng) -> int:
        return dh.random_exponent(self.group, rng)

    def multiply(self, element: int, scalar: int) -> int:
        return dh.power(self.group, element, scalar)

    def combine(self, left: int, right: int) -> int:
        return dh.multiply(self.group, left, right)

    def encode(self, element: int) -> bytes:
        return dh.encode_public(element)

    def decode(self, data: bytes, *, what: str) -> int:
        return dh.decode_public(self.group, data, what=what)

    def agree(self, private: int, peer: bytes, *, what: str) -> bytes:
        return dh.shared_secret(self.group, private, self.decode(peer, what=what))

    def map_integrated(self, field_element: int) -> int:
        return subgroup_encoding(self.group, field_element)


AnyGroup = PACEGroup[Any]
