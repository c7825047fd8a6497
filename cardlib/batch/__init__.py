"""The production line: personalizing batches of cards from a resident file, encoding the images onto blank
applets, and QA of what was produced (sources of cards, checking them in parallel, accounting, a resumable journal).
It sits above the reader and verify, which encoding and QA use to read cards back and judge them.

* :mod:`~cardlib.batch.perso` — :func:`personalize_batch`, a resident file into card images, resumable;
* :mod:`~cardlib.batch.encode` — :func:`encode_card`, an image onto a blank JMRTD applet, read back and verified;
* :mod:`~cardlib.batch.manifest` — the perso manifest (``manifest.jsonl``): its one writer and reader, ``rejected.csv``;
* :mod:`~cardlib.batch.spreadsheet` — CSV cells no spreadsheet runs as formulas, and read back;
* :mod:`~cardlib.batch.outcome` — :class:`CardOutcome`, what QA established for one card;
* :mod:`~cardlib.batch.journal` — the JSON Lines results journal a run appends to and resumes from;
* :mod:`~cardlib.batch.sources` — folders of dumps or card images, perso manifests, the expected cards;
* :mod:`~cardlib.batch.checking` — the per-card work (load, verify, fingerprint, thumbnail);
* :mod:`~cardlib.batch.accounting` — batch-level findings: duplicates, unexpected, missing, mismatched data;
* :mod:`~cardlib.batch.engine` — offline checking on every core or on a Dask cluster, bounded in flight;
* :mod:`~cardlib.batch.live` — one worker per PC/SC reader, cards taken as they arrive;
* :mod:`~cardlib.batch.pool` — process pools whose workers die with their parent.
"""
