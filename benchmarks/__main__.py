"""Run every benchmark module of this folder (``bench_*.py``) in turn: ``python -m benchmarks``.

Each module provides ``main(argv) -> int``; the exit status is non-zero when any benchmark fails.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    """Run all benchmarks with default arguments and return the worst exit status."""
    status = 0
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if not module.startswith("bench_"):
            continue
        print(f"== {module}", flush=True)
        status = max(status, int(importlib.import_module(f"benchmarks.{module}").main([])))
    return status


if __name__ == "__main__":
    sys.exit(main())
