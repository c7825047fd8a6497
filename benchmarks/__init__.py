"""Performance benchmarks of cardlib; ``python -m benchmarks`` runs every ``bench_*.py`` module here."""
