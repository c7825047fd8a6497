"""`make setup` is quiet (one line per step, apt and pip output in a log) and the package metadata is the
SPDX form setuptools accepts without warnings."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_system_installs_quietly_without_recommends(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text('#!/bin/sh\necho "apt-get $*" >>"$CALLS"\nfor i in $(seq 300); do '
                                  'echo "Unpacking package $i ..."; done\n', encoding="utf-8")
    (fake / "apt-get").chmod(0o755)
    log, calls = tmp_path / "setup.log", tmp_path / "calls"
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "system",
                           f"NEEDED_FILES={tmp_path / 'absent'}", f"SETUP_LOG={log}"],
                          env={"PATH": f"{fake}:/usr/bin:/bin", "CALLS": str(calls)}, capture_output=True,
                          text=True, check=True)
    assert done.stdout.splitlines() == [f"setup: installing system packages: {_apt_packages()} (apt output in {log})"]
    assert done.stderr == ""
    install = calls.read_text(encoding="utf-8").splitlines()[1]
    assert install.startswith("apt-get install -y --no-install-recommends ")
    assert log.read_text(encoding="utf-8").count("Unpacking package") == 600


def test_make_system_says_where_apt_failed(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text("#!/bin/sh\necho 'E: Unable to locate package chromium'\nexit 100\n",
                                  encoding="utf-8")
    (fake / "apt-get").chmod(0o755)
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "system",
                           f"NEEDED_FILES={tmp_path / 'absent'}", f"SETUP_LOG={tmp_path / 'setup.log'}"],
                          env={"PATH": f"{fake}:/usr/bin:/bin"}, capture_output=True, text=True)
    assert done.returncode != 0
    assert "E: Unable to locate package chromium" in done.stdout and "setup: apt failed" in done.stdout


def _apt_packages() -> str:
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith("APT_PACKAGES :="):
            return line.split(":=", 1)[1].strip()
    raise AssertionError("Makefile lost APT_PACKAGES")


def test_license_metadata_is_an_spdx_expression_with_its_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["license"] == "Apache-2.0", "PEP 639: a string, not the deprecated {text = ...} table"
    assert all(list(ROOT.glob(pattern)) for pattern in project["license-files"])
    assert "License ::" not in " ".join(project.get("classifiers", [])), "no license classifier beside SPDX"
    assert pyproject["build-system"]["requires"] == ["setuptools>=77"], "SPDX strings need setuptools 77"
