"""Read here, verify there: an evidence bundle a reader produces and a verifier elsewhere re-checks offline.

The most common deployment reads the chip on one machine (a phone, a counter PC, a kiosk) and decides on a
server.  A dump proves nothing about the chip (it can be copied), so the bundle carries what only a live
chip could have produced, bound to a challenge the verifier chose:

1. the verifier issues a single-use nonce (:class:`.nonces.NonceStore`);
2. the reader reads with it as the Active Authentication challenge (``read_card(..., aa_challenge=nonce)``)
   and sends :meth:`.bundle.Evidence.from_read` as JSON (:meth:`.bundle.Evidence.to_json`);
3. the verifier calls :func:`.verification.verify_evidence`, which re-checks everything: passive
   authentication of the files, the AA signature with DG15's key over the challenge, that the challenge is
   the one it issued (``live.aa_challenge``), the Chip Authentication transcript against DG14's key
   (``live.ca_transcript``), and a PACE-CAM proof against EF.CardSecurity's key (``live.pace_cam``).

Format (:mod:`.bundle`, version 1; JSON schema ``cardlib/schemas/evidence.schema.json``, see
:func:`.bundle.evidence_schema`): ``format`` "cardlib-evidence", ``version``, ``created`` (the reader's clock,
only informative), ``access`` (PACE-CAN, PACE-MRZ, BAC), ``files`` (name → base64 of the file as read),
``protected_files`` (files the chip refused), ``chip_authentication`` (protocol OID, key id, the terminal's
ephemeral public and private key, and the protected responses after the key switch: SSC, data objects, status
word), ``active_authentication`` (challenge and signature) and, optional (absent or null when the chip was not
opened with PACE-CAM; a version 1 bundle without it stays valid), ``pace_cam`` (protocol OID, parameter ID, the
chip's mapping public key and decrypted chip authentication data:
:class:`~cardlib.protocols.pace.cam.CAMProof`).  The version changes when a field is removed or changes meaning.
The bundle holds no reader secret: no CAN or MRZ, no BAC/PACE session keys.

Security argument.  *Active Authentication* is what proves a live chip to a remote verifier: only the holder
of DG15's private key (inside the chip; DG15 itself is signed by the issuer through the SOD) can sign the
verifier's fresh nonce, so a recorded bundle cannot answer a new nonce (``live.aa_challenge`` fails on a
replay, a foreign or an expired nonce).  *Chip Authentication* is re-checked but does not, alone, prove
liveness to anyone but the terminal: its MACs come from K, the ECDH secret of the terminal's ephemeral key
and DG14's key, and the verifier can recompute K only because the bundle reveals the ephemeral private key;
whoever holds that key (the reader, or anyone forging a bundle from a dump) can compute the same MACs.  What
the transcript does prove is consistency: the session keys were agreed with *this* DG14 key and the AA
signature was received inside that session (a transcript that does not fit the chip key, or an AA answer
taken from another session, fails ``live.ca_transcript``).  Revealing the ephemeral key is safe once the
session is over: it opens only that session's traffic (the SELECT and AA answers, whose content the bundle
carries anyway; cardlib reads every file before Chip Authentication), never the chip's key, the CAN/MRZ
or the BAC/PACE keys.  So ``live.chip_proven`` passes only on an AA signature over the expected challenge;
a chip without DG15 gives "cannot tell" here (CA-only remote liveness needs the verifier to take part in the
key agreement: not done).  *PACE-CAM* is re-checked the same way and for the same reason proves consistency
only: PK_Map,IC = CA_IC · PK_IC with EF.CardSecurity's key (whose signature ``cardsecurity.*`` checks), but
anyone can choose CA_IC and compute PK_Map,IC, so it never makes ``live.chip_proven`` pass here.

Modules: :mod:`.bundle` (the format, its JSON reader and writer), :mod:`.verification`
(:func:`~.verification.verify_evidence` and the ``live.*`` checks), :mod:`.nonces` (the verifier's single-use
challenges).
"""
