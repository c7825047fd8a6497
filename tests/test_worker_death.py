"""Worker processes die with their parent: ``kill -9`` of a running ``cardtool qa`` or ``cardtool perso`` leaves
no worker behind (cardlib.batch.pool), and the pool's own checks and fallback work."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_qa import card_folders, copy_as_dumps, make_batch, trust_args

from cardlib.batch.pool import ORPHAN_EXIT_STATUS, WATCH_INTERVAL
from cardlib.testing.pki import sample_pki

SAMPLES = Path(__file__).resolve().parents[1] / "tools" / "cardtool" / "samples"
GONE_WITHIN = 5.0
"""Seconds the workers may outlive their killed parent."""


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent_and_state(int(entry.name)) == (pid, True):
            found.add(int(entry.name))
    return found


def _parent_and_state(pid: int) -> tuple[int, bool] | None:
    """``(parent pid, running)`` of ``pid`` (a zombie is not running), or None once it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0] not in ("Z", "X")


def _alive(pid: int) -> bool:
    state = _parent_and_state(pid)
    return state is not None and state[1]


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _kill_parent_and_time_workers(command: list[str], busy: Callable[[], bool], workers: int) -> float:
    """Start ``command``, wait until it is ``busy`` with ``workers`` workers, ``kill -9`` it alone (not its
    process group) and return how long its workers outlived it; fail if one is alive after GONE_WITHIN s."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: busy() and len(_children(process.pid)) >= workers, 90), "the run never got busy"
        children = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        process.wait()
        gone = _wait_for(lambda: not any(map(_alive, children)), GONE_WITHIN)
        survived = time.monotonic() - killed
    finally:
        for child in _children(process.pid) | locals().get("children", set()):
            if _alive(child):
                os.kill(child, signal.SIGKILL)
    assert gone, f"workers {sorted(filter(_alive, children))} still alive {GONE_WITHIN} s after kill -9"
    return survived


@pytest.mark.slow  # over 5 s here
def test_qa_workers_die_with_a_killed_qa(tmp_path: Path) -> None:
    pki, perso = make_batch(tmp_path / "batch")
    originals = copy_as_dumps(card_folders(perso)[:2], tmp_path / "originals")
    dumps = tmp_path / "dumps"
    for number in range(2000):
        shutil.copytree(originals[number % 2], dumps / f"card-{number:04d}")
    results = tmp_path / "report" / "results.jsonl"
    command = [sys.executable, "-m", "cardtool.main", "qa", str(dumps), *trust_args(pki), "--report",
               str(tmp_path / "report"), "--workers", "2"]
    survived = _kill_parent_and_time_workers(command, lambda: results.exists() and results.stat().st_size > 4000, 2)
    assert len(results.read_text(encoding="utf-8").splitlines()) < 2000, "the run must be killed mid-batch"
    print(f"qa workers gone {survived:.2f} s after kill -9")


def test_perso_workers_die_with_a_killed_perso(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    sample_pki().save(pki)
    shutil.copytree(SAMPLES / "portraits", tmp_path / "portraits")
    shutil.copytree(SAMPLES / "fingers", tmp_path / "fingers")
    rows = list(csv.DictReader((SAMPLES / "residents.csv").open(encoding="utf-8")))
    with (tmp_path / "in.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(dict(rows[0], id_number=rows[0]["id_number"][:-4] + f"{n:04d}") for n in range(500))
    manifest = tmp_path / "out" / "manifest.jsonl"
    command = [sys.executable, "-m", "cardtool.main", "perso", str(tmp_path / "in.csv"), "--pki", str(pki),
               "--out", str(tmp_path / "out"), "--workers", "2"]
    survived = _kill_parent_and_time_workers(command, lambda: manifest.exists() and manifest.stat().st_size > 500, 2)
    print(f"perso workers gone {survived:.2f} s after kill -9")


_ORPHAN = """
import sys, time
from cardlib.batch import pool
if sys.argv[1] == "fallback":
    pool._set_parent_death_signal = lambda signum: False
pool.die_with_parent()
print("ready", flush=True)
time.sleep(60)
"""
_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("way", ["prctl", "fallback"])
def test_an_orphan_ends_itself(way: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _ORPHAN, way], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert parent.stdout.readline() == "ready\n" and _alive(child)
    parent.kill()
    parent.wait()
    try:
        assert _wait_for(lambda: not _alive(child), GONE_WITHIN if way == "prctl" else 4 * WATCH_INTERVAL)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_worker_whose_parent_already_died_exits_at_once() -> None:
    script = "from cardlib.batch.pool import die_with_parent; die_with_parent(1); print('still here')"
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert finished.returncode == ORPHAN_EXIT_STATUS and finished.stdout == ""
