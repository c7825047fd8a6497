"""Card verifiable certificates (CV certificates) of Extended Access Control, BSI TR-03110-3 Appendix C.

A CV certificate is a BER-TLV structure (ISO/IEC 7816-8), read and written element by element as the
standard lists them (TR-03110-3 Table C.1)::

    7F21 CV Certificate
         7F4E Certificate Body
              5F29 Certificate Profile Identifier        00 (version 1)
              42   Certification Authority Reference     CAR: the issuer's key, e.g. "VNCVCA00001"
              7F49 Public Key                            06 OID, then EC 81..87 or RSA 81 82 (Table D.3)
              5F20 Certificate Holder Reference          CHR: the name of this key
              7F4C Certificate Holder Authorization Template (CHAT)
                                                         06 role OID (id-IS), 53 discretionary data
              5F25 Certificate Effective Date            YYMMDD, one unpacked BCD digit per byte
              5F24 Certificate Expiration Date           YYMMDD
              65   Certificate Extensions (optional)     73 discretionary data templates
         5F37 Signature                                  over the whole 7F4E object, by the CAR's key

The public key OID names the algorithm its holder signs with (id-TA-ECDSA-SHA-256 …): an ECDSA signature is
the plain ``r ‖ s`` of BSI TR-03111, RSA is PKCS#1 v1.5 or PSS.  EC domain parameters (81 p, 82 a, 83 b,
84 G, 85 n, 87 cofactor) are in CVCA certificates only; DV and terminal certificates carry the point (86) and
take the parameters of the CVCA above them.  Explicit parameters are accepted only when they are exactly a
named curve (:func:`cardlib.curves.from_explicit`), so no attacker-chosen curve is ever computed on.

Modules, from the bytes up:

* :mod:`~cardlib.pki.cvc.codec` — the tags and the element codecs (dates, references, OIDs), one home for the
  ``DecodeError`` of a malformed element;
* :mod:`~cardlib.pki.cvc.chat` — the CHAT: terminal roles and read rights;
* :mod:`~cardlib.pki.cvc.keys` — the public key object, the id-TA signature algorithms and the CV signer;
* :mod:`~cardlib.pki.cvc.certificate` — the certificate body and the certificate;
* :mod:`~cardlib.pki.cvc.chain` — trust points and chain validation, as the chip and the terminal run it.

Every decoding failure is a :class:`~cardlib.errors.DecodeError` naming the element and its offset; a chain
that does not validate is a :class:`~cardlib.pki.cvc.chain.CVCChainError` naming why.  The test EAC PKI that
issues such certificates is :mod:`cardlib.pki.eac`.
"""
