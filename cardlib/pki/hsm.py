"""Document Signer and CSCA keys held in a PKCS#11 token (an HSM), through python-pkcs11.

A card factory never keeps the Document Signer key in a file: keys are generated inside the token
(sensitive, not extractable) and every signature is made there; only public keys and signatures leave it.
:class:`TokenKey` is a :class:`~cardlib.pki.profile.SigningKey`, so certificates and CRLs are issued by
the one builder in :mod:`cardlib.pki.profile`, and :class:`TokenSigner` is a
:class:`~cardlib.lds.sod.SODSigner`, so personalization signs SODs in the token.

SoftHSM2 (Debian ``softhsm2``) is the embedded default: :func:`softhsm_environment` points it at a
private token folder and :func:`init_token` creates a token there, without any PIN on a command line.
PINs come from an environment variable or a file (:class:`PinSource`) and appear in no repr or message.
Every failure (module missing, no such token, wrong PIN, locked token, key not found) is a PKIError.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pkcs11
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin
from pkcs11.util.ec import encode_named_curve_parameters

from cardlib.curves import by_name, by_oid
from cardlib.errors import PKIError
from cardlib.pki.filepki import FilePKI
from cardlib.pki.profile import CertificatePublicKey, FileKey, KeySpec, issue_document_signer
from cardlib.pki.signatures import HASHES, Scheme, SignatureAlgorithm

__all__ = ["SOFTHSM_MODULE", "PinSource", "Token", "TokenConfig", "TokenKey", "TokenSigner", "init_token",
           "softhsm_document_signer", "softhsm_environment"]

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Library

_SOFTHSM_CONF = "SOFTHSM2_CONF"
_CKF_TOKEN_INITIALIZED = 0x400
_CKU_SO = 0
_MECHANISMS = {
    (Scheme.RSA_PKCS1V15, "sha1"): Mechanism.SHA1_RSA_PKCS, (Scheme.RSA_PKCS1V15, "sha224"): Mechanism.SHA224_RSA_PKCS,
    (Scheme.RSA_PKCS1V15, "sha256"): Mechanism.SHA256_RSA_PKCS,
    (Scheme.RSA_PKCS1V15, "sha384"): Mechanism.SHA384_RSA_PKCS,
    (Scheme.RSA_PKCS1V15, "sha512"): Mechanism.SHA512_RSA_PKCS,
    (Scheme.RSA_PSS, "sha1"): Mechanism.SHA1_RSA_PKCS_PSS, (Scheme.RSA_PSS, "sha224"): Mechanism.SHA224_RSA_PKCS_PSS,
    (Scheme.RSA_PSS, "sha256"): Mechanism.SHA256_RSA_PKCS_PSS,
    (Scheme.RSA_PSS, "sha384"): Mechanism.SHA384_RSA_PKCS_PSS,
    (Scheme.RSA_PSS, "sha512"): Mechanism.SHA512_RSA_PKCS_PSS,
}
_PSS_HASHES = {
    "sha1": (Mechanism.SHA_1, pkcs11.MGF.SHA1), "sha224": (Mechanism.SHA224, pkcs11.MGF.SHA224),
    "sha256": (Mechanism.SHA256, pkcs11.MGF.SHA256), "sha384": (Mechanism.SHA384, pkcs11.MGF.SHA384),
    "sha512": (Mechanism.SHA512, pkcs11.MGF.SHA512),
}
# The private half never leaves the token: sensitive, not extractable, usable only to sign.
_PRIVATE_TEMPLATE = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
                     Attribute.DECRYPT: False, Attribute.UNWRAP: False, Attribute.DERIVE: False}


@dataclass(frozen=True)
class PinSource:
    """Where a token PIN is read from: an environment variable or a file (first line). Holds no PIN itself."""

    env: str | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise PKIError("a token PIN comes from exactly one of an environment variable or a file")

    def read(self) -> str:
        """The PIN; PKIError naming the variable or file (never the value) when it is missing or empty."""
        if self.env is not None:
            pin = os.environ.get(self.env, "")
            where = f"environment variable {self.env}"
        else:
            assert self.file is not None
            try:
                pin = self.file.read_text(encoding="utf-8").splitlines()[0] if self.file.stat().st_size else ""
            except OSError as error:
                raise PKIError(f"token PIN file {self.file}: cannot read ({error.strerror})") from error
            where = f"PIN file {self.file}"
        if not pin:
            raise PKIError(f"no token PIN in {where}")
        return pin


@dataclass(frozen=True)
class TokenConfig:
    """Which token to use: the PKCS#11 module, the token label, and where its user PIN comes from."""

    label: str
    pin: PinSource
    module: str = SOFTHSM_MODULE


@dataclass
class _Library:
    library: Library
    softhsm_conf: str | None


_LIBRARIES: dict[str, _Library] = {}


def _library(module: str, *, refresh: bool = False) -> Library:
    """The loaded module, initialised once per process (PKCS#11 allows no second C_Initialize).

    It is re-initialised when SOFTHSM2_CONF changed or ``refresh`` asks, so tokens created since become
    visible; sessions opened before then are closed by the module.
    """
    conf = os.environ.get(_SOFTHSM_CONF)
    loaded = _LIBRARIES.get(module)
    if loaded is None:
        if not Path(module).is_file():
            raise PKIError(f"PKCS#11 module {module} not found (install softhsm2 or name the HSM vendor's module)")
        try:
            loaded = _LIBRARIES[module] = _Library(pkcs11.lib(module), conf)
        except p11.PKCS11Error as error:
            raise PKIError(f"PKCS#11 module {module} cannot be loaded: {error}") from error
    elif refresh or loaded.softhsm_conf != conf:
        _reinitialize(loaded.library, module)
        loaded.softhsm_conf = conf
    return loaded.library


def _reinitialize(library: Library, module: str) -> None:
    try:
        library.reinitialize()
    except p11.PKCS11Error as error:
        raise PKIError(f"PKCS#11 module {module} cannot be re-initialised: {type(error).__name__}") from error


def _find_token(label: str, module: str) -> pkcs11.Token:
    """The token labelled ``label``, re-scanning the slots once when it is not (yet) visible."""
    for refresh in (False, True):
        try:
            return _transient_retried(partial(_library(module, refresh=refresh).get_token, token_label=label))
        except p11.NoSuchToken:
            continue
        except p11.PKCS11Error as error:
            raise PKIError(f"token {label!r}: {type(error).__name__}") from error
    raise PKIError(f"no token labelled {label!r} in {module}")


_T = TypeVar("_T")
GENERAL_ERROR_RETRIES = 8
"""Attempts at a token call answered CKR_GENERAL_ERROR, with a growing pause, before the error stands."""
_RETRY_PAUSE = 0.01


def _transient_retried(call: Callable[[], _T]) -> _T:
    """``call()``, tried again when the module answers CKR_GENERAL_ERROR.

    SoftHSM2 keeps a token in files that every process using it reads and rewrites: while one process opens a
    session or logs in, another reading the token's information now and then gets CKR_GENERAL_ERROR (batch perso's
    workers all open the token at once).  The error passes once the other process is done; one that persists
    over the attempts is raised.
    """
    for attempt in range(GENERAL_ERROR_RETRIES - 1):
        try:
            return call()
        except p11.GeneralError:
            time.sleep(_RETRY_PAUSE * 2**attempt)
    return call()


def _login(token: pkcs11.Token, config: TokenConfig) -> pkcs11.Session:
    """A read-write user session; plain PKIErrors for a locked token and a wrong PIN."""
    if token.flags & TokenFlag.USER_PIN_LOCKED:
        raise PKIError(f"token {config.label!r} is locked (user PIN blocked): unblock it with the SO PIN")
    pin = config.pin.read()
    try:
        return _transient_retried(partial(token.open, user_pin=pin, rw=True))
    except p11.PinIncorrect as error:
        raise PKIError(f"wrong PIN for token {config.label!r}") from error
    except p11.PinLocked as error:
        raise PKIError(f"token {config.label!r} is locked (user PIN blocked): unblock it with the SO PIN") from error
    except p11.UserPinNotInitialized as error:
        raise PKIError(f"token {config.label!r} is locked: its user PIN was never set") from error
    except p11.PKCS11Error as error:
        raise PKIError(f"cannot log in to token {config.label!r}: {type(error).__name__}") from error


class Token:
    """A logged-in session on one token: generate keys in it and find them again. Close when done."""

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self._session = _login(_find_token(config.label, config.module), config)

    def __enter__(self) -> Token:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the session (keys obtained from it stop working)."""
        try:
            self._session.close()
        except p11.PKCS11Error:
            return  # the module was re-initialised: the session is already gone

    def generate_key(self, spec: KeySpec, label: str) -> TokenKey:
        """A new key pair of ``spec`` stored in the token; its CKA_ID is the SHA-1 of the public key bytes."""
        try:
            if spec.curve is not None:
                parameters = self._session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(by_name(spec.curve).oid)},
                    local=True)
                public, private = parameters.generate_keypair(store=True, label=label,
                                                              private_template=_PRIVATE_TEMPLATE)
            else:
                public, private = self._session.generate_keypair(KeyType.RSA, spec.rsa_bits, store=True, label=label,
                                                                 private_template=_PRIVATE_TEMPLATE)
            key = TokenKey(label, private, _public_key(public))
            key_id = key.key_id
            public[Attribute.ID] = key_id
            private[Attribute.ID] = key_id
        except p11.PKCS11Error as error:
            raise PKIError(f"token {self.config.label!r} cannot generate a {spec.text} key: "
                           f"{type(error).__name__}") from error
        return key

    def key(self, key_id: bytes) -> TokenKey:
        """The key pair whose CKA_ID is ``key_id``; PKIError when the token has none."""
        try:
            private = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
        except p11.NoSuchKey as error:
            raise PKIError(f"token {self.config.label!r} holds no key with id {key_id.hex()}") from error
        except p11.PKCS11Error as error:
            raise PKIError(f"token {self.config.label!r}: key {key_id.hex()}: {type(error).__name__}") from error
        if not isinstance(private, pkcs11.PrivateKey) or not isinstance(public, pkcs11.PublicKey):
            raise PKIError(f"token {self.config.label!r}: key {key_id.hex()} is not a key pair")
        return TokenKey(str(private.label), private, _public_key(public))

    def destroy_key(self, key_id: bytes) -> None:
        """Delete both halves of the key ``key_id`` (a retired Document Signer key must not sign again)."""
        try:
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                for item in self._session.get_objects({Attribute.CLASS: object_class, Attribute.ID: key_id}):
                    item.destroy()
        except p11.PKCS11Error as error:
            raise PKIError(f"token {self.config.label!r}: cannot destroy key {key_id.hex()}") from error

    def __repr__(self) -> str:
        return f"Token(label={self.config.label!r}, module={self.config.module!r})"


def _public_key(public: pkcs11.PublicKey) -> CertificatePublicKey:
    """The :mod:`cryptography` public key of a token public-key object (EC named curve or RSA)."""
    if public.key_type == KeyType.RSA:
        modulus = int.from_bytes(public[Attribute.MODULUS], "big")
        exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    curve = by_oid(core.ObjectIdentifier.load(public[Attribute.EC_PARAMS]).dotted).require_crypto_curve()
    point = bytes(core.OctetString.load(public[Attribute.EC_POINT]).native)
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)


@dataclass(frozen=True, repr=False)
class TokenKey:
    """A private key inside a token (a :class:`~cardlib.pki.profile.SigningKey`): signing happens there."""

    label: str
    _private: pkcs11.PrivateKey
    _public: CertificatePublicKey

    @property
    def key_id(self) -> bytes:
        """CKA_ID: SHA-1 of the public key's encoded point or modulus (the usual PKCS#11 convention)."""
        if isinstance(self._public, ec.EllipticCurvePublicKey):
            material = self._public.public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        else:
            material = self._public.public_numbers().n.to_bytes((self._public.key_size + 7) // 8, "big")
        return hashlib.sha1(material).digest()

    def public_key(self) -> CertificatePublicKey:
        """The public half, read from the token when the key was found."""
        return self._public

    def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign ``data`` in the token: ECDSA over its hash (returned DER-encoded), RSA PKCS#1 v1.5 or PSS."""
        if not isinstance(self._private, SignMixin):
            raise PKIError(f"token key {self.label!r} cannot sign")
        try:
            if algorithm.scheme is Scheme.ECDSA:
                raw = self._private.sign(hashlib.new(algorithm.hash_name, data).digest(), mechanism=Mechanism.ECDSA)
                half = len(raw) // 2
                return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
            mechanism = _MECHANISMS[(algorithm.scheme, algorithm.hash_name)]
            if algorithm.scheme is Scheme.RSA_PSS:
                digest, mgf = _PSS_HASHES[algorithm.hash_name]
                parameter = (digest, mgf, HASHES[algorithm.hash_name].digest_size)
                return bytes(self._private.sign(data, mechanism=mechanism, mechanism_param=parameter))
            return bytes(self._private.sign(data, mechanism=mechanism))
        except p11.PKCS11Error as error:
            raise PKIError(f"token key {self.label!r} cannot sign with {algorithm.scheme.value}/"
                           f"{algorithm.hash_name}: {type(error).__name__}") from error

    def __repr__(self) -> str:
        return f"TokenKey(label={self.label!r})"


@dataclass(frozen=True, repr=False)
class TokenSigner:
    """A Document Signer whose key stays in a token: a :class:`~cardlib.lds.sod.SODSigner` for personalization.

    Keep the :class:`Token` open while signing; the repr shows the token label and the DS subject only.
    """

    certificate: x509.Certificate
    key: TokenKey
    algorithm: SignatureAlgorithm
    token: Token = field(compare=False)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (the SOD's signed attributes) in the token."""
        return self.key.sign(data, self.algorithm)

    def __repr__(self) -> str:
        return (f"TokenSigner(token={self.token.config.label!r}, "
                f"subject={self.certificate.subject.rfc4514_string()!r}, algorithm={self.algorithm})")


def softhsm_environment(directory: Path) -> Path:
    """Point SoftHSM2 at a private token folder under ``directory`` (sets SOFTHSM2_CONF for this process).

    Returns the configuration file written; the folder is created if needed, nothing global is touched.
    """
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens.resolve()}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    encoding="utf-8")
    os.environ[_SOFTHSM_CONF] = str(conf.resolve())
    return conf


def init_token(label: str, so_pin: str, user_pin: str | None, module: str = SOFTHSM_MODULE) -> None:
    """Initialise the first free slot's token as ``label`` (C_InitToken), then set its user PIN.

    With ``user_pin`` None the token has no user PIN yet and refuses logins (it is locked for use).
    PINs pass only through PKCS#11 calls, never through a command line.
    """
    library = _library(module)
    free = [slot for slot in library.get_slots(token_present=True)
            if not slot.get_token().flags & _CKF_TOKEN_INITIALIZED]
    if not free:
        raise PKIError(f"{module}: no free slot for a new token")
    native = ctypes.CDLL(module)  # the same loaded module, already initialised by python-pkcs11
    padded = label.encode("utf-8").ljust(32, b" ")
    if len(padded) > 32:
        raise PKIError(f"token label {label!r} is longer than 32 bytes")
    status = native.C_InitToken(ctypes.c_ulong(free[0].slot_id), so_pin.encode(), ctypes.c_ulong(len(so_pin)),
                                ctypes.c_char_p(padded))
    if status != 0:
        raise PKIError(f"{module}: C_InitToken failed with CKR 0x{status:x}")
    token = _find_token(label, module)
    if user_pin is not None:
        try:
            with token.open(so_pin=so_pin, rw=True) as session:
                session.init_pin(user_pin)
        except p11.PKCS11Error as error:
            raise PKIError(f"token {label!r}: cannot set the user PIN: {type(error).__name__}") from error


def softhsm_document_signer(directory: Path, pki: FilePKI, *, label: str = "cardlib-demo") -> TokenSigner:
    """A Document Signer in a fresh SoftHSM2 token under ``directory``, certified by ``pki``'s CSCA.

    For the demo and tests: a token is created with random PINs, the user PIN is kept in
    ``directory/user.pin`` (mode 0600), a DS key of ``pki.config.ds_key`` is generated in the token
    and its certificate issued now.  The returned signer's token stays open for signing.
    """
    softhsm_environment(directory)
    pin_file = directory / "user.pin"
    descriptor = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(8) + "\n")
    init_token(label, secrets.token_hex(8), PinSource(file=pin_file).read())
    token = Token(TokenConfig(label, PinSource(file=pin_file)))
    key = token.generate_key(pki.config.ds_key, "Document Signer")
    now = datetime.now(UTC).replace(microsecond=0)
    certificate = issue_document_signer(pki.config, pki.csca_certificate, FileKey(pki.csca_key), key.public_key(),
                                        now, pki.config.ds_common_name)
    return TokenSigner(certificate, key, pki.config.ds_key.algorithm, token)
