"""Benchmark: offline verification and personalization against their cryptographic floor.

The floor is the cryptography a card cannot do without, timed alone in the same run:

* verification of a dump: hashing every data group, the SOD signature, the DS certificate's signature
  by the CSCA and the CRL's signature;
* personalization of a card whose portrait is already sized: generating the chip's AA and CA keys,
  hashing the data groups and signing the SOD.

cardlib must reach at least half the floor's cards/s for each (ratio ≥ 0.5).
Run with ``python -m benchmarks.bench_core [--seconds S]``; all figures are per core (one process).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cardlib.card.image import CardImage
from cardlib.card.perso import ChipKeys, personalize
from cardlib.card.synthetic_faces import synthetic_portrait_jpeg
from cardlib.card.testing import sample_pki, sample_resident
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.trust import TrustStore
from cardlib.verify.report import Verdict
from cardlib.verify.verifier import verify

TARGET_RATIO = 0.5


def rate(action: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``action`` over about ``seconds`` (after one warm-up call)."""
    action()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        action()
        count += 1
    return count / elapsed


def _verification(seconds: float) -> tuple[float, float]:
    pki = sample_pki()
    dump = personalize(sample_resident(1), synthetic_portrait_jpeg(1), pki.document_signer).dump()
    csca = Certificate.from_cryptography(pki.csca_certificate)
    trust = TrustStore([csca], [RevocationList.from_cryptography(pki.crl)])
    assert verify(dump, trust).verdict is Verdict.VALID
    sod = SOD.decode(dump.files["EF.SOD"])
    ds_key = pki.ds_certificate.public_key()
    csca_key = pki.csca_certificate.public_key()
    assert isinstance(ds_key, ec.EllipticCurvePublicKey) and isinstance(csca_key, ec.EllipticCurvePublicKey)
    groups = [data for name, data in dump.files.items() if name.startswith("DG")]
    signed = sod.signed_attributes or b""

    def floor() -> None:
        for data in groups:
            hashlib.sha256(data).digest()
        hashlib.sha384(sod.econtent).digest()
        ds_key.verify(sod.signature, signed, ec.ECDSA(hashes.SHA384()))
        csca_key.verify(pki.ds_certificate.signature, pki.ds_certificate.tbs_certificate_bytes,
                        ec.ECDSA(hashes.SHA512()))
        csca_key.verify(pki.crl.signature, pki.crl.tbs_certlist_bytes, ec.ECDSA(hashes.SHA512()))

    return rate(lambda: verify(dump, trust), seconds), rate(floor, seconds)


def _personalization(seconds: float) -> tuple[float, float]:
    pki = sample_pki()
    signer = pki.document_signer
    portrait = synthetic_portrait_jpeg(2)
    resident = sample_resident(2)
    image: CardImage = personalize(resident, portrait, signer)
    groups = [data for name, data in image.files.items() if name.startswith("DG")]

    def floor() -> None:
        ChipKeys.generate()
        for data in groups:
            hashlib.sha256(data).digest()
        signer.sign(b"\x31" + bytes(120))

    return rate(lambda: personalize(resident, portrait, signer), seconds), rate(floor, seconds)


def _line(what: str, ours: float, floor: float) -> tuple[str, bool]:
    ratio = ours / floor
    ok = ratio >= TARGET_RATIO
    return (f"{what:<28} {ours:8.1f} cards/s   floor {floor:8.1f} cards/s   ratio {ratio:4.2f} "
            f"(target ≥ {TARGET_RATIO}) {'ok' if ok else 'BELOW TARGET'}"), ok


def main(argv: list[str]) -> int:
    """Measure both rates and their floors; non-zero exit when a ratio is below target."""
    parser = argparse.ArgumentParser(prog="bench_core", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure")
    args = parser.parse_args(argv)
    results = [_line("offline verification", *_verification(args.seconds)),
               _line("personalization", *_personalization(args.seconds))]
    for text, _ in results:
        print(text)
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
