"""Run the benchmark modules of this folder (``bench_*.py``): ``python -m benchmarks [bench_qa ...]``.

Each benchmark runs in a process of its own (``python -m benchmarks.<name>``), so none inherits what another
changed in its process: the core it pinned itself to, its peak memory, its caches.  With no names, every
benchmark runs with its default arguments; the exit status is the worst of theirs.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
from pathlib import Path


def benchmarks() -> list[str]:
    """The benchmark modules of this folder, by name."""
    return sorted(module.name for module in pkgutil.iter_modules([str(Path(__file__).parent)])
                  if module.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (default: all) one after another, each in its own process."""
    known = benchmarks()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(known)})")
    names = parser.parse_args(argv).names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)} (there are {', '.join(known)})")
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        status = max(status, subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode)
    return status


if __name__ == "__main__":
    sys.exit(main())
