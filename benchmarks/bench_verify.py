"""Benchmark: offline verification of a dump against its per-card cryptographic floor (issue 18).

The floor is what no verifier can skip for a card: hashing every data group the SOD lists and the eContent,
and verifying the SOD signature with the Document Signer key already parsed.  The DS certificate's signature
by the CSCA and the CRL's signature are the same for a whole batch and cached by exact bytes, so they are not
in the floor; their cost is printed on a line of its own.

Three sides run over the same cards, interleaved round by round on one pinned core
(:mod:`benchmarks.interleave`): the floor, the passive-authentication checks alone
(:func:`cardlib.verify.passive.passive_checks` with the EF.COM and DG1 they need), and the full
:func:`cardlib.verify.verifier.verify`.  The ratios are the median of the per-round ratios, with their spread.

Cards: a batch of distinct cards signed by one Document Signer (as a production line makes them) for the
CCCD profile and for each other chip profile the project makes, cycled through; and the two public specimens
(BSI 2008: explicit brainpoolP224r1 and a JPEG 2000 portrait; LOES 2006: RSA), of which only one card each
exists.  Nothing a card carries of its own is cached between cards.

Run with ``python -m benchmarks.bench_verify [--rounds N] [--cards N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import ecdsa.util
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from benchmarks.breakdown import print_breakdown, stage_times
from benchmarks.interleave import Rounds, Side, interleaved, pin_one_core, ratio_text, write_json
from cardlib.card.image import CardImage
from cardlib.card.perso import ChipProfile, personalize
from cardlib.errors import CardlibError
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.oids import protocol_oid
from cardlib.lds.sod import SOD
from cardlib.pki.certificates import Certificate, RevocationList
from cardlib.pki.signatures import ECPublicPoint, PublicKey, Scheme, resolve_algorithm
from cardlib.pki.trust import TrustStore
from cardlib.testing.cards import sample_resident
from cardlib.testing.faces import synthetic_portrait_jpeg
from cardlib.testing.pki import sample_pki
from cardlib.verify.passive import passive_checks
from cardlib.verify.verifier import PROTECTED_IN_DUMPS, verify

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENUINE = Path(__file__).resolve().parents[1] / "testvectors" / "genuine"
# The specimens' Document Signers expired in 2009 and 2011: they are verified on a day inside their validity.
SPECIMEN_DAY = datetime(2008, 6, 1, tzinfo=UTC)
# Targets of issue 18: (full verify, passive part) as fractions of the floor; None where the issue sets none.
TARGETS: dict[str, tuple[float | None, float | None]] = {"CCCD": (0.5, 0.8), "bsi2008": (0.3, 0.8)}
PROFILES = {
    "CCCD": ChipProfile(),
    "RSA AA": ChipProfile(aa_key_type="rsa"),
    "3DES": ChipProfile(pace_protocol=protocol_oid("id-PACE-ECDH-GM-3DES-CBC-CBC"),
                        ca_protocol=protocol_oid("id-CA-ECDH-3DES-CBC-CBC")),
    "AES-256": ChipProfile(pace_protocol=protocol_oid("id-PACE-ECDH-GM-AES-CBC-CMAC-256"),
                           ca_protocol=protocol_oid("id-CA-ECDH-AES-CBC-CMAC-256")),
    "JPEG 2000": ChipProfile(portrait_format="JPEG2000"),
}
SPECIMENS = ("bsi2008", "loes2006")
SIDES = ("floor", "passive", "verify")


@dataclass(frozen=True)
class Case:
    """Cards to verify against one trust store on one day."""

    name: str
    cards: Sequence[CardImage]
    trust: TrustStore
    at: datetime


@dataclass(frozen=True)
class FloorCard:
    """One card's floor: the data groups the SOD lists, the eContent, and its signature check (key parsed)."""

    groups: tuple[bytes, ...]
    group_hash: str
    econtent: bytes
    econtent_hash: str
    check_signature: Callable[[], None]

    def run(self) -> None:
        """Hash every data group and the eContent, verify the SOD signature (raises when it is wrong)."""
        for data in self.groups:
            hashlib.new(self.group_hash, data).digest()
        hashlib.new(self.econtent_hash, self.econtent).digest()
        self.check_signature()


def _key_check(key: PublicKey, sod: SOD) -> Callable[[], None]:
    """The raw signature check of ``sod`` under an already parsed ``key``: no AlgorithmIdentifier to read."""
    algorithm = sod.signature_algorithm
    scheme, hash_name = resolve_algorithm(algorithm.oid, None, digest_algorithm=sod.digest_algorithm)
    signed, signature = sod.signed_attributes or sod.econtent, sod.signature
    digest = getattr(hashes, hash_name.upper())()
    if isinstance(key, ECPublicPoint):  # python-ecdsa, with the per-key precomputation a batch pays once
        verifying = key.verifying_key()
        verifying.precompute(lazy=False)
        hash_function = getattr(hashlib, hash_name)
        return lambda: verifying.verify(signature, signed, hashfunc=hash_function, sigdecode=ecdsa.util.sigdecode_der)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return lambda: key.verify(signature, signed, ec.ECDSA(digest))
    assert isinstance(key, rsa.RSAPublicKey)
    pad: padding.AsymmetricPadding = padding.PKCS1v15()
    if scheme is Scheme.RSA_PSS:
        pad = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    return lambda: key.verify(signature, signed, pad, digest)


def floor_card(card: CardImage, keys: dict[bytes, PublicKey]) -> FloorCard:
    """The floor of ``card``; ``keys`` holds the DS keys parsed so far (one parse per Document Signer)."""
    sod = SOD.decode(card.files["EF.SOD"])
    lso = sod.lds_security_object
    signer = next(entry.der for entry in sod.signer_certificates if sod.sid.matches(entry))
    if signer not in keys:
        keys[signer] = Certificate.from_der(signer).public_key
    groups = tuple(card.files[f"DG{number}"] for number in sorted(lso.dg_hashes) if f"DG{number}" in card.files)
    floor = FloorCard(groups, lso.hash_algorithm, sod.econtent, sod.digest_algorithm, _key_check(keys[signer], sod))
    floor.run()
    return floor


def passive_only(files: dict[str, bytes], trust: TrustStore, at: datetime) -> object:
    """Passive authentication as :func:`verify` runs it, with the EF.COM and DG1 it needs decoded first."""
    return passive_checks(files, trust, at=at, com=_decoded(EFCOM.decode, files.get("EF.COM")),
                          dg1=_decoded(DG1.decode, files.get("DG1")), protected=PROTECTED_IN_DUMPS)


def _decoded(decoder: Callable[[bytes], Any], data: bytes | None) -> Any:
    try:
        return None if data is None else decoder(data)
    except CardlibError:
        return None


def measure(case: Case, rounds: int, per_round: int) -> Rounds:
    """Floor, passive part and full verify over the cards of ``case``, interleaved."""
    keys: dict[bytes, PublicKey] = {}
    items = [(card, floor_card(card, keys)) for card in case.cards]
    first = verify(case.cards[0], case.trust, at=case.at)
    if first.failures():
        raise SystemExit(f"{case.name}: the benchmark card does not verify:\n{first.to_text()}")
    sides = [Side[tuple[CardImage, FloorCard]]("floor", lambda item: item[1].run()),
             Side("passive", lambda item: passive_only(dict(item[0].files), case.trust, case.at)),
             Side("verify", lambda item: verify(item[0], case.trust, at=case.at))]
    return interleaved(sides, items, rounds=rounds, per_round=per_round)


def cached_work(case: Case) -> float:
    """Milliseconds of what a batch does once per Document Signer: the DS certificate's signature by the CSCA
    and the CRL's signature, with the certificates already parsed."""
    sod = SOD.decode(case.cards[0].files["EF.SOD"])
    signer = Certificate.from_der(sod.signer_certificates[0].der)
    started, count = time.perf_counter(), 0
    issuers = [csca for csca in case.trust.cscas if csca.subject_key == signer.issuer_key]
    crls = [crl for crl in case.trust.crls if crl.issuer_key == signer.issuer_key]
    while time.perf_counter() - started < 0.3:
        for csca in issuers:
            signer.verify_issued_by(csca)
            for crl in crls:
                crl.verify_issued_by(csca)
        count += 1
    return (time.perf_counter() - started) / count * 1000


# --- the cards ------------------------------------------------------------------------------------------------


def generated(profile: ChipProfile, count: int) -> list[CardImage]:
    """``count`` distinct dumps (resident, portrait, chip keys) signed by the sample Document Signer."""
    signer = sample_pki().document_signer
    return [personalize(sample_resident(index), synthetic_portrait_jpeg(index), signer, profile=profile).dump()
            for index in range(count)]


def generated_trust() -> TrustStore:
    """The sample PKI's CSCA and CRL."""
    pki = sample_pki()
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])


def specimen(folder: str) -> list[CardImage]:
    """The public specimen in ``folder`` of the shared data (one card; copies of its bytes, not its objects)."""
    card = CardImage.load(SHARED_DATA / folder)
    return [CardImage({name: bytes(bytearray(data)) for name, data in card.files.items()}, label=folder)
            for _ in range(4)]


def cases(cards: int, profile_cards: int, wanted: Callable[[str], bool]) -> Iterator[Case]:
    """The card kinds ``wanted`` says to measure: the CCCD profile first, then the other profiles and the
    specimens (each made when its turn comes)."""
    trust, now = generated_trust(), datetime.now(UTC)
    for name, profile in PROFILES.items():
        if wanted(name):
            yield Case(name, generated(profile, cards if name == "CCCD" else profile_cards), trust, now)
    folders = [folder for folder in SPECIMENS if wanted(folder)]
    if folders and not SHARED_DATA.is_dir():
        print(f"(no public specimens: {SHARED_DATA} is missing)")
    elif folders:
        public = TrustStore.load(SHARED_DATA / "masterlists", GENUINE / "anchors")
        yield from (Case(folder, specimen(folder), public, SPECIMEN_DAY) for folder in folders)


# --- report ---------------------------------------------------------------------------------------------------


def _verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f" target ≥ {target}: {'ok' if ratio >= target else 'BELOW'}"


def report(case: Case, measured: Rounds, cached_ms: float) -> tuple[dict[str, Any], bool]:
    """Print the figures of one case; its JSON entry and whether its targets are met."""
    verify_target, passive_target = TARGETS.get(case.name, (None, None))
    full, passive = measured.ratio("verify", "floor"), measured.ratio("passive", "floor")
    print(f"{case.name} ({len(case.cards)} cards): floor {measured.rate('floor'):7.1f} cards/s")
    for side, ratio, target in (("passive", passive, passive_target), ("verify", full, verify_target)):
        print(f"  {side:<8} {measured.rate(side):7.1f} cards/s  ratio {ratio_text(*ratio)}{_verdict(ratio[0], target)}")
    print(f"  cached per Document Signer, not in the floor (DSC and CRL signatures): {cached_ms:.2f} ms once")
    met = all(target is None or ratio[0] >= target
              for ratio, target in ((full, verify_target), (passive, passive_target)))
    entry = {"cards": len(case.cards), "rates": {side: measured.rate(side) for side in SIDES},
             "ratios": {"verify": full, "passive": passive}, "per_round": measured.rates,
             "cached_ms": cached_ms, "targets": {"verify": verify_target, "passive": passive_target}, "met": met}
    return entry, met


def main(argv: list[str] | None = None) -> int:
    """Measure every case; non-zero exit when a target of issue 18 is missed."""
    parser = argparse.ArgumentParser(prog="bench_verify", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per card kind (default 5)")
    parser.add_argument("--per-round", type=int, default=40, help="cards per side per round (default 40)")
    parser.add_argument("--cards", type=int, default=200, help="distinct CCCD-profile cards (default 200)")
    parser.add_argument("--profile-cards", type=int, default=40, help="distinct cards of other profiles (default 40)")
    parser.add_argument("--only", action="append", help="measure only this card kind (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON (- for standard output)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print where a verify's time goes, stage by stage (benchmarks/breakdown.py)")
    args = parser.parse_args(argv)
    core = pin_one_core()
    print(f"pinned to core {core}; {args.rounds} interleaved rounds of {args.per_round} cards per side")
    figures: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "core": core, "rounds": args.rounds,
                               "per_round": args.per_round, "cases": {}}
    all_met = True
    for case in cases(args.cards, args.profile_cards, lambda name: not args.only or name in args.only):
        measured = measure(case, args.rounds, args.per_round)
        entry, met = report(case, measured, cached_work(case))
        if args.breakdown:
            times = stage_times(partial(verify, trust=case.trust, at=case.at), case.cards, args.rounds)
            print_breakdown(times, 1000 / measured.rate("floor"))
            entry["breakdown_ms"] = times
        figures["cases"][case.name] = entry
        all_met &= met
    write_json(args.json, figures)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
