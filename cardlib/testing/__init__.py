"""Test support: synthetic cards, a test PKI and a private pcscd, for tests, benchmarks, the demo and integrators.

Everything here makes or hosts *synthetic* material, so a test, a benchmark, ``cardtool demo`` or an
integrator's own test suite can exercise cardlib end to end without a real card, a real person or a real key:

- :mod:`cardlib.testing.pki` — :class:`~cardlib.testing.pki.TestPKI`, a freshly generated CSCA, Document Signer
  and CRL with the production profile of :mod:`cardlib.pki.profile` (keys saved unencrypted),
  :func:`~cardlib.testing.pki.sample_pki`, one per process, and :func:`~cardlib.testing.pki.sample_trust`, the
  trust store its cards verify against;
- :mod:`cardlib.testing.cards` — sample residents, their personalized and signed card images, and a forgery
  (a DG13 edited after signing) that passive authentication must reject;
- :mod:`cardlib.testing.faces` / :mod:`cardlib.testing.fingers` — deterministic synthetic portraits and
  ridge-pattern fingerprints, so no real person is ever on a sample card;
- :mod:`cardlib.testing.pcscd` — a private pcscd with the vsmartcard virtual reader, for virtual chips.

Nothing in production imports this package (``tests/test_testing_boundary.py`` enforces it; only ``tools/``,
e.g. ``cardtool demo``, may), and importing it imports none of its modules.
"""
