"""Secure messaging of ICAO 9303-11 §9.8 for both ends of the channel, plus the block-cipher primitives
that BAC, PACE and Chip Authentication share with it.

Commands are protected as ``CLA|0C INS P1 P2 [DO85/DO87] [DO97] DO8E 00``; responses carry
``[DO85/DO87] DO99 DO8E``.  3DES sessions use 3DES-CBC with a zero IV and the ISO/IEC 9797-1 MAC
algorithm 3 ("retail MAC"); AES sessions use AES-CBC with IV = E(KSenc, SSC) and AES-CMAC truncated to 8
bytes.  Each protected command and each protected response increments the send sequence counter first.
"""

from __future__ import annotations

import hmac
from typing import Literal

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from cardlib.errors import DecodeError, ProtocolError
from cardlib.lds.tlv import TLV, encode_tlv, iter_tlvs
from cardlib.protocols.apdu import EXTENDED_MAX_LE, SHORT_MAX_LC, SHORT_MAX_LE, CommandAPDU, ResponseAPDU

try:  # cryptography ≥ 43 keeps TripleDES among the "decrepit" algorithms.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

CipherName = Literal["3DES", "AES"]
MAC_LENGTH = 8
SM_CLA_BITS = 0x0C
DO_CRYPTOGRAM_ODD = 0x85
DO_CRYPTOGRAM = 0x87
DO_LE = 0x97
DO_STATUS = 0x99
DO_MAC = 0x8E
MAC_DO_LENGTH = 10  # DO8E with its 8-byte MAC (3DES and AES sessions alike)
PADDING_INDICATOR = b"\x01"
_SHORT_RESPONSE_LIMIT = 256


def block_size(cipher: str) -> int:
    """Cipher block length in bytes: 8 for 3DES, 16 for AES."""
    return {"3DES": 8, "AES": 16}[_check_cipher(cipher)]


def _check_cipher(cipher: str) -> str:
    if cipher not in ("3DES", "AES"):
        raise ProtocolError(f"unsupported secure messaging cipher {cipher!r}")
    return cipher


def _algorithm(cipher: str, key: bytes) -> BlockCipherAlgorithm:
    if _check_cipher(cipher) == "AES":
        return algorithms.AES(key)
    # Two-key 3DES (K1 K2) is spelled out as K1 K2 K1, the only form cryptography keeps supporting.
    return TripleDES(key + key[:8] if len(key) == 16 else key)


def pad(data: bytes, size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: append 80 then zeros up to a multiple of ``size``."""
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % size)


def unpad(data: bytes) -> bytes:
    """Remove ISO/IEC 9797-1 padding method 2; ProtocolError when the padding is malformed."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ProtocolError("decrypted data has no ISO 9797-1 method 2 padding")
    return stripped[:-1]


def cbc_encrypt(cipher: str, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC encryption of block-aligned ``data`` (zero IV unless given)."""
    algorithm = _algorithm(cipher, key)
    vector = iv or bytes(algorithm.block_size // 8)
    encryptor = Cipher(algorithm, modes.CBC(vector)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def cbc_decrypt(cipher: str, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC decryption (zero IV unless given); ProtocolError when ``data`` is not whole blocks."""
    algorithm = _algorithm(cipher, key)
    if not data or len(data) % (algorithm.block_size // 8):
        raise ProtocolError(f"cryptogram of {len(data)} bytes is not a whole number of cipher blocks")
    vector = iv or bytes(algorithm.block_size // 8)
    decryptor = Cipher(algorithm, modes.CBC(vector)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def ecb_encrypt_block(cipher: str, key: bytes, block: bytes) -> bytes:
    """Encrypt one block (used for the AES SM IV, E(KSenc, SSC))."""
    encryptor = Cipher(_algorithm(cipher, key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def retail_mac(key: bytes, padded: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES over already padded data: single-DES CBC with K1 over all but
    the last block, then the last block through 3DES (K1, K2, K1), which equals the final E(K1)·D(K2)·E(K1)."""
    if len(key) != 16 or len(padded) % 8 or not padded:
        raise ProtocolError("retail MAC needs a 16-byte key and whole 8-byte blocks")
    chain = bytes(8)
    if len(padded) > 8:
        chain = cbc_encrypt("3DES", key[:8] * 3, padded[:-8])[-8:]
    last = bytes(a ^ b for a, b in zip(chain, padded[-8:], strict=True))
    return ecb_encrypt_block("3DES", key, last)


def compute_mac(cipher: str, key: bytes, padded: bytes) -> bytes:
    """The 8-byte SM/authentication MAC: retail MAC (3DES) or AES-CMAC truncated to 8 bytes."""
    if _check_cipher(cipher) == "3DES":
        return retail_mac(key, padded)
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(padded)
    return mac.finalize()[:MAC_LENGTH]


class SecureMessaging:
    """One secure messaging session (ICAO 9303-11 §9.8): session keys, cipher, send sequence counter."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: int, cipher: CipherName) -> None:
        self.cipher: str = _check_cipher(cipher)
        self._block = block_size(cipher)
        self._ks_enc = ks_enc
        self._ks_mac = ks_mac
        self.ssc = ssc % (1 << (8 * self._block))

    def __repr__(self) -> str:
        return f"SecureMessaging(cipher={self.cipher!r}, ssc={self.ssc:#x})"

    @property
    def max_plain_read(self) -> int:
        """Largest plaintext Le whose protected response still fits a short response (231 3DES, 223 AES)."""
        trailer = 4 + 2 + MAC_LENGTH  # DO99 and DO8E
        size = _SHORT_RESPONSE_LIMIT - trailer
        while len(encode_tlv(DO_CRYPTOGRAM, bytes(1 + len(pad(bytes(size), self._block))))) + trailer > 256:
            size -= 1
        return size

    def advance(self, steps: int) -> None:
        """Move the send sequence counter by ``steps`` (negative: back), for exchanges one end did not count.

        A plain answer inside a session is the case (ICAO 9303-11 §9.8 ties the increments to protected
        APDUs): the terminal goes back to where the chip stands, a chip that counted more goes forward.
        """
        self.ssc = (self.ssc + steps) % (1 << (8 * self._block))

    # -- shared pieces ---------------------------------------------------------------------------------

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << (8 * self._block))
        return self.ssc.to_bytes(self._block, "big")

    def _mac(self, ssc: bytes, message: bytes) -> bytes:
        return compute_mac(self.cipher, self._ks_mac, pad(ssc + message, self._block))

    def _iv(self, ssc: bytes) -> bytes | None:
        return ecb_encrypt_block("AES", self._ks_enc, ssc) if self.cipher == "AES" else None

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return cbc_encrypt(self.cipher, self._ks_enc, pad(data, self._block), self._iv(ssc))

    def _decrypt(self, ssc: bytes, cryptogram: bytes) -> bytes:
        return unpad(cbc_decrypt(self.cipher, self._ks_enc, cryptogram, self._iv(ssc)))

    def _cryptogram_do(self, ssc: bytes, data: bytes, odd_ins: bool) -> bytes:
        if odd_ins:
            return encode_tlv(DO_CRYPTOGRAM_ODD, self._encrypt(ssc, data))
        return encode_tlv(DO_CRYPTOGRAM, PADDING_INDICATOR + self._encrypt(ssc, data))

    def _open_cryptogram(self, ssc: bytes, objects: dict[int, TLV]) -> bytes:
        if DO_CRYPTOGRAM in objects:
            value = objects[DO_CRYPTOGRAM].value
            if value[:1] != PADDING_INDICATOR:
                raise ProtocolError("DO87 does not start with padding-content indicator 01")
            return self._decrypt(ssc, value[1:])
        if DO_CRYPTOGRAM_ODD in objects:
            return self._decrypt(ssc, objects[DO_CRYPTOGRAM_ODD].value)
        return b""

    def _check_mac(self, ssc: bytes, objects: dict[int, TLV], covered: bytes, side: str) -> None:
        if DO_MAC not in objects:
            raise ProtocolError(f"protected {side} has no DO8E MAC")
        if not hmac.compare_digest(self._mac(ssc, covered), objects[DO_MAC].value):
            raise ProtocolError(f"secure messaging MAC of the {side} does not verify")

    # -- terminal side ---------------------------------------------------------------------------------

    def protect_command(self, cmd: CommandAPDU) -> CommandAPDU:
        """Wrap a plain command: encrypt data into DO87 (DO85 for odd INS), Le into DO97, MAC into DO8E."""
        ssc = self._next_ssc()
        cla = cmd.cla | SM_CLA_BITS
        extended = cmd.is_extended
        body = self._cryptogram_do(ssc, cmd.data, bool(cmd.ins & 1)) if cmd.data else b""
        if cmd.le is not None:
            body += encode_tlv(DO_LE, _encode_le(cmd.le, extended))
        header = pad(bytes([cla, cmd.ins, cmd.p1, cmd.p2]), self._block)
        body += encode_tlv(DO_MAC, self._mac(ssc, header + body))
        extended = extended or len(body) > SHORT_MAX_LC
        return CommandAPDU(cla, cmd.ins, cmd.p1, cmd.p2, body, EXTENDED_MAX_LE if extended else SHORT_MAX_LE,
                           extended=extended)

    def unprotect_response(self, rsp: ResponseAPDU) -> ResponseAPDU:
        """Verify and decrypt a protected response; ProtocolError on a missing or wrong MAC or status.

        A response with no data and an error status word is returned unchanged: chips answer SM errors
        (6987, 6988) in plain, and such a status carries nothing that a MAC could protect.
        """
        ssc = self._next_ssc()
        if not rsp.data:
            if rsp.ok:
                raise ProtocolError("unprotected 9000 response on a secure messaging channel")
            return rsp
        objects = _data_objects(rsp.data, "response")
        covered = b"".join(objects[tag].encode() for tag in (DO_CRYPTOGRAM_ODD, DO_CRYPTOGRAM, DO_STATUS)
                           if tag in objects)
        self._check_mac(ssc, objects, covered, "response")
        if DO_STATUS not in objects and rsp.ok:  # a chip may leave DO99 out of 9000: the MAC covers the data
            return ResponseAPDU(self._open_cryptogram(ssc, objects), rsp.sw)
        if DO_STATUS not in objects or len(objects[DO_STATUS].value) != 2:
            raise ProtocolError("protected response has no two-byte DO99 status")
        status = int.from_bytes(objects[DO_STATUS].value, "big")
        if status != rsp.sw:
            raise ProtocolError(f"DO99 status {status:04X} disagrees with the response status {rsp.sw:04X}")
        return ResponseAPDU(self._open_cryptogram(ssc, objects), status)

    # -- chip side -------------------------------------------------------------------------------------

    def unprotect_command(self, cmd: CommandAPDU) -> CommandAPDU:
        """Verify and decrypt a protected command; ProtocolError on a missing/wrong MAC (wrong SSC included)."""
        ssc = self._next_ssc()
        if cmd.cla & SM_CLA_BITS != SM_CLA_BITS:
            raise ProtocolError(f"command CLA {cmd.cla:02X} does not announce secure messaging")
        objects = _data_objects(cmd.data, "command")
        covered = b"".join(objects[tag].encode() for tag in (DO_CRYPTOGRAM_ODD, DO_CRYPTOGRAM, DO_LE)
                           if tag in objects)
        self._check_mac(ssc, objects, pad(cmd.header, self._block) + covered, "command")
        le = _decode_le(objects[DO_LE].value) if DO_LE in objects else None
        data = self._open_cryptogram(ssc, objects)
        return CommandAPDU(cmd.cla & ~SM_CLA_BITS & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, le,
                           extended=cmd.extended)

    def protect_response(self, rsp: ResponseAPDU, *, status: bool = True) -> ResponseAPDU:
        """Wrap a plain response into DO87, DO99 and DO8E under the next SSC; the status word is kept.

        ``status=False`` leaves DO99 out, as some chips do for 9000 answers.
        """
        ssc = self._next_ssc()
        body = self._cryptogram_do(ssc, rsp.data, odd_ins=False) if rsp.data else b""
        body += encode_tlv(DO_STATUS, rsp.sw.to_bytes(2, "big")) if status else b""
        body += encode_tlv(DO_MAC, self._mac(ssc, body))
        return ResponseAPDU(body, rsp.sw)


def carries_mac(body: bytes) -> bool:
    """Whether a protected response body ends with a DO8E MAC (some chips leave it out of error answers)."""
    return len(body) >= MAC_DO_LENGTH and body[-MAC_DO_LENGTH:][:2] == bytes([DO_MAC, MAC_DO_LENGTH - 2])


def _encode_le(le: int, extended: bool) -> bytes:
    """DO97 value: one byte (256 → 00) or, for extended commands, two bytes (65536 → 0000)."""
    return (le % 65536).to_bytes(2, "big") if extended else bytes([le % 256])


def _decode_le(raw: bytes) -> int:
    if len(raw) not in (1, 2):
        raise ProtocolError(f"DO97 Le of {len(raw)} bytes")
    value = int.from_bytes(raw, "big")
    return value or (256 if len(raw) == 1 else 65536)


def _data_objects(data: bytes, side: str) -> dict[int, TLV]:
    """The SM data objects of a command or response body, each at most once; ProtocolError otherwise."""
    try:
        found = list(iter_tlvs(data, file=f"SM {side}"))
    except DecodeError as exc:
        raise ProtocolError(f"malformed secure messaging {side}: {exc}") from None
    objects: dict[int, TLV] = {}
    for obj in found:
        if obj.tag not in (DO_CRYPTOGRAM_ODD, DO_CRYPTOGRAM, DO_LE, DO_STATUS, DO_MAC) or obj.tag in objects:
            raise ProtocolError(f"unexpected or repeated data object {obj.tag:X} in a protected {side}")
        objects[obj.tag] = obj
    return objects
