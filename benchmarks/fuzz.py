"""Long fuzzing runs of every decoder target (``tests/fuzz/fuzz_targets.py``), not part of CI.

::

    python -m benchmarks.fuzz --minutes 5                  # every target, the time shared between them
    python -m benchmarks.fuzz --minutes 2 --target sod     # one target (repeat --target for several)
    python -m benchmarks.fuzz --engine hypothesis          # without atheris

With atheris (coverage-guided libFuzzer) each target runs in its own process, seeded with its genuine inputs
and its regression corpus; without it, hypothesis mutates the seeds in this process.  Either way a target may
only return or raise a cardlib error: any other exception is a bug, and the input that raised it is saved to
``tests/fuzz/corpus/<target>/`` (once per distinct exception site), which CI replays.  Prints, per target,
the inputs run, inputs per second and the bugs found; the exit status is 1 when any bug was found.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FUZZ_DIR = Path(__file__).resolve().parents[1] / "tests" / "fuzz"
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_BUG = "BUG "


@dataclass
class Outcome:
    """What one target's run achieved."""

    target: str
    inputs: int
    seconds: float
    bugs: list[str]

    def line(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        found = f"{len(self.bugs)} new bug(s)" if self.bugs else "no bug"
        return f"{self.target:<14} {self.inputs:>9} inputs {rate:>9.0f}/s   {found}"


def _targets() -> Any:
    """The fuzz_targets module of the test suite (imported from tests/fuzz, which is not a package)."""
    if str(FUZZ_DIR) not in sys.path:
        sys.path.insert(0, str(FUZZ_DIR))
    import fuzz_targets

    return fuzz_targets


class _Bugs:
    """Escaping exceptions found in one run, each saved to the corpus the first time its site is seen."""

    def __init__(self, module: Any, target: Any) -> None:
        self.module = module
        self.target = target
        self.sites: dict[str, str] = {}

    def record(self, data: bytes) -> None:
        bug = self.module.run_one(self.target, data)
        if bug is None:
            return
        site = bug.split(":", 2)[0] + bug.split(":", 2)[1]
        if site not in self.sites:
            path = self.module.save_crasher(self.target, data)
            self.sites[site] = f"{bug} -> {path.relative_to(FUZZ_DIR.parents[1])}"
            print(_BUG + self.sites[site], flush=True)


# -- atheris: one process per target ------------------------------------------------------------------------


def _atheris_worker(name: str, seconds: int, seeds: Path) -> int:
    """Body of the per-target process: libFuzzer over the instrumented library until ``seconds`` pass.

    ``seeds`` (a folder the parent removes) starts with the target's seeds and corpus; libFuzzer adds to it.
    """
    import atheris

    with atheris.instrument_imports():
        module = _targets()
    target = module.TARGETS[name]
    bugs = _Bugs(module, target)
    for index, seed in enumerate([*target.seeds(), *_corpus(module, name)]):
        (seeds / f"seed-{index}").write_bytes(seed)
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-timeout=30", "-rss_limit_mb=4096",
                   "-max_len=16384", str(seeds)], bugs.record)
    atheris.Fuzz()
    return 0


def _corpus(module: Any, name: str) -> list[bytes]:
    folder = module.CORPUS / name
    return [path.read_bytes() for path in sorted(folder.glob("*.bin"))] if folder.is_dir() else []


def _run_atheris(name: str, seconds: int) -> Outcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"cardlib-fuzz-{name}-") as seeds:
        process = subprocess.run([sys.executable, "-m", "benchmarks.fuzz", "--worker", name, "--seconds",
                                  str(seconds), "--seeds", seeds],
                                 capture_output=True, text=True, errors="replace", check=False)
    elapsed = time.perf_counter() - start
    done = _DONE.search(process.stderr)
    bugs = [line[len(_BUG):] for line in process.stdout.splitlines() if line.startswith(_BUG)]
    if done is None:  # libFuzzer stopped on its own: a timeout, out of memory, or a crash outside the harness
        tail = " | ".join(process.stderr.strip().splitlines()[-3:])
        bugs.append(f"the fuzzer stopped (status {process.returncode}): {tail}")
        return Outcome(name, 0, elapsed, bugs)
    return Outcome(name, int(done.group(1)), elapsed, bugs)


# -- hypothesis: in this process ----------------------------------------------------------------------------


def _run_hypothesis(name: str, seconds: int) -> Outcome:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    module = _targets()
    target = module.TARGETS[name]
    bugs = _Bugs(module, target)
    count = 0

    @settings(max_examples=1000, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def once(data: st.DataObject) -> None:
        nonlocal count
        count += 1
        bugs.record(data.draw(module.hostile(target)))

    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        once()
    return Outcome(name, count, time.perf_counter() - start, list(bugs.sites.values()))


def _engine(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "hypothesis"
    return "atheris"


def main(argv: list[str]) -> int:
    """Fuzz the chosen targets for the time given; exit status 1 when a bug was found."""
    parser = argparse.ArgumentParser(prog="benchmarks.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="total time, shared between the targets")
    parser.add_argument("--target", action="append", help="a target name (default: all)")
    parser.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _atheris_worker(args.worker, args.seconds, args.seeds)
    names = args.target or list(_targets().TARGETS)
    unknown = [name for name in names if name not in _targets().TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(_targets().TARGETS)}")
    engine = _engine(args.engine)
    seconds = max(1, int(args.minutes * 60 / len(names)))
    print(f"fuzzing {len(names)} target(s) with {engine}, {seconds} s each", flush=True)
    run = _run_atheris if engine == "atheris" else _run_hypothesis
    outcomes = []
    for name in names:
        outcome = run(name, seconds)
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    total = sum(outcome.inputs for outcome in outcomes)
    bugs = [bug for outcome in outcomes for bug in outcome.bugs]
    print(f"total: {total} inputs, {len(bugs)} bug(s)" + "".join(f"\n  {bug}" for bug in bugs))
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
