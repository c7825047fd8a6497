"""Batch QA of card production: sources of cards, checking them in parallel, accounting, a resumable journal.

* :mod:`~cardlib.batch.outcome` — :class:`CardOutcome`, what QA established for one card;
* :mod:`~cardlib.batch.journal` — the JSON Lines results journal a run appends to and resumes from;
* :mod:`~cardlib.batch.sources` — folders of dumps or card images, perso manifests, the expected cards;
* :mod:`~cardlib.batch.checking` — the per-card work (load, verify, fingerprint, thumbnail);
* :mod:`~cardlib.batch.accounting` — batch-level findings: duplicates, unexpected, missing, mismatched data;
* :mod:`~cardlib.batch.engine` — offline checking on every core or on a Dask cluster, bounded in flight;
* :mod:`~cardlib.batch.live` — one worker per PC/SC reader, cards taken as they arrive.
"""
