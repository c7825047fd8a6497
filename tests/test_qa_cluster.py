"""cardtool qa --cluster: the same QA on a Dask distributed cluster (a local one here) gives the same report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cardtool.main import main
from distributed import LocalCluster
from test_qa import alter_file, card_folders, copy_as_dumps, make_batch, outcomes, trust_args

from cardlib.batch import engine


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield str(local.scheduler_address)


def test_a_cluster_run_equals_a_local_run(cluster: str, tmp_path: Path) -> None:
    pki, perso = make_batch(tmp_path)
    dumps = copy_as_dumps(card_folders(perso)[:7], tmp_path / "dumps")
    alter_file(dumps[3], "DG1")
    (tmp_path / "dumps" / "garbage").mkdir()
    common = ["qa", str(tmp_path / "dumps"), "--expected", str(perso), *trust_args(pki), "--at", "2026-01-01"]
    assert main([*common, "--report", str(tmp_path / "local"), "--workers", "2"]) == 1
    assert main([*common, "--report", str(tmp_path / "dask"), "--cluster", cluster]) == 1
    local, dask = outcomes(tmp_path / "local"), outcomes(tmp_path / "dask")
    assert len(dask) == 8
    assert sorted(map(_comparable, local)) == sorted(map(_comparable, dask))
    assert (tmp_path / "local" / "summary.csv").read_bytes() == (tmp_path / "dask" / "summary.csv").read_bytes()


def test_an_unreachable_scheduler_is_one_plain_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 1.0)
    pki, perso = make_batch(tmp_path)
    status = main(["qa", str(perso), *trust_args(pki), "--report", str(tmp_path / "r"),
                   "--cluster", "tcp://127.0.0.1:9"])
    assert status == 2
    assert capsys.readouterr().err.startswith("cardtool qa: no Dask scheduler at tcp://127.0.0.1:9")


def _comparable(outcome: object) -> tuple[object, ...]:
    fields = ("key", "label", "verdict", "summary", "failed_checks", "undecided_checks", "holder", "reasons",
              "thumbnail")
    return tuple(str(getattr(outcome, name)) for name in fields)
