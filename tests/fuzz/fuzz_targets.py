"""Every decoder of cardlib as a fuzz target: bytes in, and only cardlib's own typed errors may come out.

A :class:`Target` runs one decoder (or a whole procedure, such as verification or a read) over hostile bytes.
Its contract: return, or raise a :class:`~cardlib.errors.CardlibError`.  Anything else escaping is a bug in
the library.  Each target has *seeds*: genuine encodings from a synthetic card, which the harnesses mutate so
that the fuzzing reaches deep into the structures instead of stopping at the first tag.

Used three ways: the hypothesis harnesses (``test_fuzz_*.py``, a few hundred inputs each in CI), the corpus
replay (``test_fuzz_corpus.py``: every file of ``corpus/<target>/``), and the long runs of
``python -m benchmarks.fuzz`` (atheris, or hypothesis with many examples), which save new crashers to the corpus.
"""

from __future__ import annotations

import hashlib
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import strategies as st

from cardlib.card.image import CardImage
from cardlib.card.inputs import read_records
from cardlib.chip.chip import VirtualChip
from cardlib.errors import CardlibError
from cardlib.lds.cardsecurity import CardSecurity
from cardlib.lds.com import EFCOM
from cardlib.lds.dg1 import DG1
from cardlib.lds.dg3 import DG3
from cardlib.lds.dg13 import DG13
from cardlib.lds.dg15 import DG15
from cardlib.lds.securityinfo import DG14, CardAccess
from cardlib.lds.sod import SOD
from cardlib.lds.tlv import iter_tlvs
from cardlib.model.mrz import MRZ
from cardlib.pki.certificates import Certificate, RevocationList, load_certificates
from cardlib.pki.cvc.certificate import CVCertificate
from cardlib.pki.eac import EACPKI
from cardlib.pki.masterlist import MasterList, encode_master_list
from cardlib.pki.trust import TrustStore
from cardlib.protocols.apdu import CommandAPDU, ResponseAPDU
from cardlib.reader.reader import AccessKey, read_card
from cardlib.reader.transport import InProcessTransport
from cardlib.testing.cards import sample_card_image
from cardlib.testing.pki import sample_pki
from cardlib.verify.cardsecurity import cardsecurity_checks
from cardlib.verify.conformance import conformance_checks
from cardlib.verify.decoded import DecodedLDS
from cardlib.verify.verifier import verify

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``run`` feeds bytes to the code under test; ``seeds`` are valid inputs to mutate."""

    name: str
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]]


@cache
def card() -> CardImage:
    """The synthetic card the seeds come from (no real person)."""
    return sample_card_image(5)


@cache
def trust() -> TrustStore:
    pki = sample_pki()
    return TrustStore([Certificate.from_cryptography(pki.csca_certificate)],
                      [RevocationList.from_cryptography(pki.crl)])


def _file(name: str) -> Callable[[], list[bytes]]:
    return lambda: [card().files[name]]


def _tlv(data: bytes) -> object:
    return [obj.value for obj in iter_tlvs(data, file="fuzz")]


def _mrz(data: bytes) -> object:
    mrz = MRZ.parse(data.decode("utf-8", "replace"))
    return mrz.check_digits(), mrz.name, mrz.mrz_information, mrz.id_number


def _dg1(data: bytes) -> object:
    return DG1.decode(data).mrz.check_digits()


def _dg2(data: bytes) -> object:
    """DG2 through its codec and the conformance checks, which open the portrait with pillow."""
    return conformance_checks(DecodedLDS.of({"DG2": data}))


def _dg3(data: bytes) -> object:
    """DG3 through its record codec (finger images are not decoded: WSQ is NBIS C code, fuzzed apart)."""
    return [(finger.position, finger.compression, len(finger.image)) for finger in DG3.decode(data).fingers]


def _dg3_seeds() -> list[bytes]:
    from cardlib.lds.dg3 import Compression, FingerImage, FingerPosition
    from cardlib.testing.fingers import HEIGHT, WIDTH, synthetic_finger_wsq
    fingers = tuple(FingerImage.for_finger(synthetic_finger_wsq(seed), Compression.WSQ, position, WIDTH, HEIGHT)
                    for seed, position in ((1, FingerPosition.RIGHT_INDEX), (2, FingerPosition.LEFT_INDEX)))
    return [DG3(fingers).encode()]


def _card_security(data: bytes) -> object:
    """EF.CardSecurity decoded and verified (signature, chain, agreement with the card's EF.CardAccess and DG14)."""
    files = {**card().files, "EF.CardSecurity": data}
    return CardSecurity.decode(data).security_infos, cardsecurity_checks(files, trust(), at=datetime.now(UTC))


def _card_security_seeds() -> list[bytes]:
    from cardlib.card.perso import ChipKeys, card_security
    jmrtd = Path(__file__).resolve().parents[3] / "shared" / "data" / "cardsecurity" / "efcardsecurity.dump"
    own = card_security(ChipKeys.generate(), sample_pki().document_signer)
    return [own, *([jmrtd.read_bytes()] if jmrtd.exists() else [])]


def _cvc(data: bytes) -> object:
    """A CV certificate decoded, re-encoded and checked against its own key (as a self-signed CVCA)."""
    certificate = CVCertificate.decode(data)
    return certificate.encode(), certificate.verify_signature(certificate.body.public_key)


def _cvc_seeds() -> list[bytes]:
    pki = EACPKI.generate()
    return [pki.cvca.encode(), pki.dv.encode(), pki.inspection_system.encode()]


def _dg13(data: bytes) -> object:
    decoded = DG13.decode(data)
    return decoded.encode(), decoded.to_resident()


def _dg14(data: bytes) -> object:
    return DG14.decode(data).chip_authentication_public_key_infos


def _card_access(data: bytes) -> object:
    return [(info.protocol, info.curve) for info in CardAccess.decode(data).pace_infos]


def _dg15(data: bytes) -> object:
    return DG15.decode(data).public_key.cryptography_key()


def _sod(data: bytes) -> object:
    sod = SOD.decode(data)
    return sod.lds_security_object, sod.sid.issuer_text


def _verify_sod(data: bytes) -> object:
    """A whole verification of the genuine dump with a hostile EF.SOD: a report, never an exception."""
    return verify(CardImage({**card().dump().files, "EF.SOD": data}), trust()).verdict


def _verify_file(data: bytes) -> object:
    """The first byte picks which file of the genuine dump the rest replaces."""
    names = sorted(card().dump().files)
    name = names[data[0] % len(names)] if data else names[0]
    return verify(CardImage({**card().dump().files, name: data[1:]}), trust()).verdict


def _verify_file_seeds() -> list[bytes]:
    names = sorted(card().dump().files)
    return [bytes([index]) + card().files[name] for index, name in enumerate(names)]


def _certificate(data: bytes) -> object:
    certificate = Certificate.from_der(data)
    return certificate.public_key, certificate.verify_issued_by(certificate), certificate.country


def _certificate_seeds() -> list[bytes]:
    pki = sample_pki()
    return [Certificate.from_cryptography(pki.ds_certificate).der,
            Certificate.from_cryptography(pki.csca_certificate).der]


def _crl(data: bytes) -> object:
    return RevocationList.from_der(data).revoked_serials


def _crl_seeds() -> list[bytes]:
    return [RevocationList.from_cryptography(sample_pki().crl).der]


def _pem(data: bytes) -> object:
    return load_certificates(data, "fuzz")


def _pem_seeds() -> list[bytes]:
    return [sample_pki().csca_certificate.public_bytes(Encoding.PEM)]


def _master_list(data: bytes) -> object:
    return MasterList.parse(data, "fuzz").intact


def _master_list_seeds() -> list[bytes]:
    pki = sample_pki()
    csca = Certificate.from_cryptography(pki.csca_certificate)
    return [encode_master_list([csca], csca, pki.csca_key, pki.config.csca_key.algorithm, datetime.now(UTC))]


_TRUST_SUFFIXES = (".pem", ".der", ".cer", ".crl", ".ml", ".p7b")


def _trust_file(data: bytes) -> object:
    """The first byte picks the suffix of a file in a trust folder, the rest is its content: a store and its
    report of what it did not trust."""
    suffix = _TRUST_SUFFIXES[data[0] % len(_TRUST_SUFFIXES)] if data else ".der"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"anchor{suffix}").write_bytes(data[1:])
        store = TrustStore.load(folder)
        return [csca.subject for csca in store.cscas], store.load_report


def _trust_file_seeds() -> list[bytes]:
    return [bytes([0]) + _pem_seeds()[0], bytes([1]) + _certificate_seeds()[1], bytes([3]) + _crl_seeds()[0],
            bytes([4]) + _master_list_seeds()[0]]


def _command_apdu(data: bytes) -> object:
    parsed = CommandAPDU.parse(data)
    return parsed.encode()


def _response_apdu(data: bytes) -> object:
    return ResponseAPDU.parse(data).ok


def _apdu_seeds() -> list[bytes]:
    return [bytes.fromhex("00B0810000"), bytes.fromhex("00A4040C07A0000002471001"), bytes.fromhex("0CB000000000"),
            bytes.fromhex("00B1000000000554030100000000"), bytes.fromhex("10860000027C0000")]


def _chip(data: bytes) -> object:
    """The chip side: a fresh chip fed a sequence of APDUs (each prefixed by its length byte) must always
    answer with a status word and never raise, whatever state the commands put it in."""
    chip = VirtualChip(card())
    answers = []
    position = 0
    while position < len(data):
        size = data[position]
        answer = chip.process(data[position + 1 : position + 1 + size])
        if len(answer) < 2:
            raise AssertionError(f"the chip answered {answer.hex()} without a status word")
        answers.append(answer)
        position += 1 + size
    return answers


def _chip_seeds() -> list[bytes]:
    return [b"".join(bytes([len(apdu)]) + apdu for apdu in _apdu_seeds())]


def _reader(data: bytes) -> object:
    """The reader side: the genuine chip, but answer number ``data[0] % 24`` is replaced by the rest."""
    secrets = card().secrets
    assert secrets is not None
    target, noise = (data[0] % 24, data[1:]) if data else (0, b"")
    chip = VirtualChip(card())
    count = 0

    def answer(command: bytes) -> bytes:
        nonlocal count
        count += 1
        genuine = chip.process(command)
        return noise if count == target + 1 else genuine

    class _Noisy:
        def process(self, raw: bytes) -> bytes:
            return answer(raw)

    return read_card(InProcessTransport(_Noisy()), AccessKey.can(secrets.can)).dump


def _reader_seeds() -> list[bytes]:
    return [bytes([index]) + bytes.fromhex("9000") for index in (0, 3, 8, 12)]


def _input_file(suffix: str) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"input{suffix}"
            path.write_bytes(data)
            return list(read_records(path, check_portraits=False))
    return run


_CSV_SEED = ("id_number,full_name,date_of_birth,sex,place_of_origin,place_of_residence,date_of_issue,"
             "date_of_expiry,portrait\n001190000005,Nguyễn Thị Thu Hương,02/07/1990,Nữ,Hà Nội,Hà Nội,10/04/2021,"
             "02/07/2030,face.jpg\n").encode()
_JSONL_SEED = ('{"id_number": "001190000005", "full_name": "Nguyễn Thị Thu Hương", "date_of_birth": "1990-07-02", '
               '"sex": "Nữ", "place_of_origin": "Hà Nội", "place_of_residence": "Hà Nội", "date_of_issue": '
               '"2021-04-10", "date_of_expiry": "Không thời hạn", "portrait": "face.jpg"}\n').encode()

TARGETS: dict[str, Target] = {target.name: target for target in (
    Target("tlv", _tlv, _file("DG13")),
    Target("ef_com", lambda data: EFCOM.decode(data).data_groups, _file("EF.COM")),
    Target("mrz", _mrz, lambda: [str(DG1.decode(card().files["DG1"]).mrz).encode()]),
    Target("dg1", _dg1, _file("DG1")),
    Target("dg2", _dg2, _file("DG2")),
    Target("dg3", _dg3, _dg3_seeds),
    Target("cvc", _cvc, _cvc_seeds),
    Target("dg13", _dg13, _file("DG13")),
    Target("dg14", _dg14, _file("DG14")),
    Target("card_access", _card_access, _file("EF.CardAccess")),
    Target("card_security", _card_security, _card_security_seeds),
    Target("dg15", _dg15, _file("DG15")),
    Target("sod", _sod, _file("EF.SOD")),
    Target("verify_sod", _verify_sod, _file("EF.SOD")),
    Target("verify_file", _verify_file, _verify_file_seeds),
    Target("certificate", _certificate, _certificate_seeds),
    Target("crl", _crl, _crl_seeds),
    Target("pem", _pem, _pem_seeds),
    Target("master_list", _master_list, _master_list_seeds),
    Target("trust_file", _trust_file, _trust_file_seeds),
    Target("command_apdu", _command_apdu, _apdu_seeds),
    Target("response_apdu", _response_apdu, lambda: [bytes.fromhex("6F0A0102039000"), bytes.fromhex("6982")]),
    Target("chip", _chip, _chip_seeds),
    Target("reader", _reader, _reader_seeds),
    Target("input_csv", _input_file(".csv"), lambda: [_CSV_SEED]),
    Target("input_jsonl", _input_file(".jsonl"), lambda: [_JSONL_SEED]),
)}


def run_one(target: Target, data: bytes) -> str | None:
    """Run ``target`` on ``data``; None when it returned or raised a CardlibError, else the escaping bug."""
    try:
        target.run(data)
    except CardlibError:
        return None
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}: {' '.join(str(error).split())}"
    return None


def save_crasher(target: Target, data: bytes) -> Path:
    """Store ``data`` in the regression corpus of ``target`` (named by its SHA-1, so saved once)."""
    folder = CORPUS / target.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(data).hexdigest()}.bin"
    path.write_bytes(data)
    return path


def check(target: Target, data: bytes) -> None:
    """The harness contract: ``target`` returns or raises a CardlibError; anything else propagates as a bug."""
    try:
        target.run(data)
    except CardlibError:
        return


# Bytes where TLV and DER decoders change their mind: short/long length forms, high tag numbers, the extremes.
_BOUNDARY_BYTES = (0x00, 0x01, 0x1F, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xFF)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with one to four edits: a bit flipped, a boundary byte written, bytes deleted, inserted, or cut."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 0 and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1 and data:
            data[position] = draw(st.sampled_from(_BOUNDARY_BYTES))
        elif kind == 2:
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == 3:
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[position:]
    return bytes(data)


@cache
def seeds_of(name: str) -> list[bytes]:
    """The seeds of target ``name``, made once per process (some hold signatures, which differ each time)."""
    return TARGETS[name].seeds()


def hostile(target: Target) -> st.SearchStrategy[bytes]:
    """Inputs for ``target``: mutations of its seeds (mostly), or any bytes at all."""
    return st.one_of(mutated(seeds_of(target.name)), st.binary(max_size=300))
