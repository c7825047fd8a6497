"""Resource budgets: how much hostile input cardlib accepts before it stops with :class:`LimitExceeded`.

Every byte from a chip, a dump, a master list or a network peer is hostile.  Each budget below is the one
home of its number; the code that enforces it raises :class:`LimitExceeded` naming the budget, what hit
it, and the limit, so an operator can tell a bomb from a bug.  The values leave generous room above the
largest genuine documents seen (ICAO 9303 portraits are tens of kilobytes; the ICAO master list is
about 1 MB with some 500 certificates).
"""

from __future__ import annotations

from cardlib.errors import CardlibError

__all__ = [
    "COUNTER_MAX_BODY_BYTES",
    "COUNTER_MAX_CONNECTIONS",
    "COUNTER_REQUEST_SECONDS",
    "MAX_CARD_BYTES",
    "MAX_CHIP_MODELS",
    "MAX_DECLARED_PIXELS",
    "MAX_DECODED_PIXELS",
    "MAX_DG3_DECODED_PIXELS",
    "MAX_EVIDENCE_BYTES",
    "MAX_EVIDENCE_RESPONSES",
    "MAX_FACES_PER_DG2",
    "MAX_FACE_SIDE",
    "MAX_FILE_BYTES",
    "MAX_FINGERS_PER_DG3",
    "MAX_FINGER_SIDE",
    "MAX_JPEG2000_TILES",
    "MAX_JPEG_SCANS",
    "MAX_MASTER_LIST_BYTES",
    "MAX_MASTER_LIST_CERTIFICATES",
    "MAX_PENDING_NONCES",
    "MAX_READ_APDUS",
    "MAX_TRUST_FILE_BYTES",
    "READ_DEADLINE_SECONDS",
    "LimitExceeded",
]

# --- one LDS file, one card (chips, dumps, card images) ---
MAX_FILE_BYTES = 1 << 20
"""Largest LDS file accepted (1 MiB): genuine DG2/DG3 files are tens to a few hundred kilobytes."""
MAX_CARD_BYTES = 4 << 20
"""Largest sum of all files of one card (4 MiB)."""

# --- images inside DG2 (and any portrait decoded for display or checks) ---
MAX_DECLARED_PIXELS = 100_000_000
"""Largest width × height an image may declare at all; beyond it the image is refused undecoded."""
MAX_DECODED_PIXELS = 4_000_000
"""Most pixels ever decoded from one image: larger ones are decoded at a reduced resolution, which
proves they decode without spending memory on every pixel."""
MAX_FACES_PER_DG2 = 4
"""Most face images one DG2 may hold (genuine documents carry one)."""
MAX_FINGERS_PER_DG3 = 10
"""Most finger images one DG3 may hold (a person has ten fingers; the CCCD stores two)."""
MAX_DG3_DECODED_PIXELS = 2_000_000
"""Most pixels the finger images of one DG3 may declare in all before any is decoded: WSQ has no reduced
resolution, so each image is decoded whole, at roughly a second per 4 million pixels (genuine documents
hold two index fingers, under 800,000 pixels together)."""
MAX_FINGER_SIDE = 2000
"""Widest or tallest finger image (pixels) that ``cardtool perso`` encodes and ``lds.dg3.size`` accepts: a plain
finger at 1000 ppi is under 1600 pixels (the CCCD's 500 ppi index fingers are a few hundred)."""
MAX_FACE_SIDE = 4096
"""Widest or tallest face image (pixels) that ``lds.dg2.size`` accepts as a chip portrait (a few hundred is usual)."""
MAX_JPEG2000_TILES = 1024
"""Most tiles a JPEG 2000 image may declare: openjpeg sets up about 12 KB per tile before decoding any pixel,
so 8×8-pixel tiles make a small image cost gigabytes (genuine portraits have one tile)."""
MAX_JPEG_SCANS = 100
"""Most scans a JPEG may hold: each progressive scan walks the whole image again, so thousands of tiny scans
make a 40 KB file take minutes (progressive encoders write about ten)."""

# --- reading a chip ---
READ_DEADLINE_SECONDS = 120.0
"""Longest a whole read of one chip may take (a genuine read takes a few seconds)."""
MAX_READ_APDUS = 4096
"""Most command APDUs one read may send (a genuine read sends tens to a few hundred)."""
MAX_CHIP_MODELS = 256
"""Most chip models the reader's cache remembers (``cardlib.reader.models``); the oldest are forgotten first,
and a cache file larger than this many entries can fill is ignored."""

# --- trust material ---
MAX_TRUST_FILE_BYTES = 16 << 20
"""Largest certificate or CRL file loaded into a trust store (16 MiB)."""
MAX_MASTER_LIST_BYTES = 16 << 20
"""Largest master list loaded (16 MiB; the ICAO master list is about 1 MB)."""
MAX_MASTER_LIST_CERTIFICATES = 10_000
"""Most certificates one master list may carry (the ICAO master list carries about 500)."""

# --- the counter's local web server (cardtool counter): any local program may connect ---
COUNTER_MAX_BODY_BYTES = 4096
"""Largest request body the counter reads (the biggest genuine one, an MRZ key, is under 200 bytes)."""
COUNTER_REQUEST_SECONDS = 5.0
"""Longest a client may take to send one whole request to the counter (line, headers and body)."""
COUNTER_MAX_CONNECTIONS = 32
"""Most connections the counter serves at once (its page uses two or three)."""

# --- liveness evidence sent to a verifier (cardlib.evidence, cardlib.service): from any client ---
MAX_EVIDENCE_BYTES = 6 << 20
"""Largest evidence bundle accepted (6 MiB): the base64 of a whole card (MAX_CARD_BYTES) and its transcript."""
MAX_EVIDENCE_RESPONSES = 16
"""Most protected responses a Chip Authentication transcript may carry (a read sends two: SELECT and AA)."""
MAX_PENDING_NONCES = 10_000
"""Most challenges a verification service keeps issued and unused at once; beyond it new ones are refused."""


class LimitExceeded(CardlibError):
    """Input went over a resource budget: ``budget`` names the constant, ``what`` the input, ``limit`` its value."""

    def __init__(self, budget: str, what: str, limit: float, found: float | None = None) -> None:
        self.budget = budget
        self.what = what
        self.limit = limit
        self.found = found
        seen = f" ({found:,} found)" if found is not None else ""
        super().__init__(f"{what}: over the {budget} budget of {limit:,}{seen}")
