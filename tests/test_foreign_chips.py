"""A chip cardlib did not make (issue 11): vsmartcard's ePass emulator (``vicc -t ePass``, Debian
``python3-virtualsmartcard``, installed by ``make setup``) read over a private pcscd + vpcd.

The emulator's passport is BAC-only, its files carry no short file identifiers (READ BINARY by SFI: 6A82),
its answers under secure messaging never hold DO99 and carry a MAC only on 9000, and it counts a plain
error answer as one SSC step; cardlib reads through all of that (each one reproduced with the virtual
chip in tests/test_field_chips.py).  Its generated EF.COM is malformed (DO5C declares 2 bytes and holds 4,
"6175" as text), which is where the read stops today, with an error naming the file and offset.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import vicc_epass

from cardlib.chip.pcscd import PcscdInstance, private_pcscd
from cardlib.errors import DecodeError
from cardlib.reader.pcsc import connect
from cardlib.reader.reader import AccessKey, ChipRefusedError, read_card
from cardlib.reader.trace import APDUTrace

# ICAO 9303-3's specimen passport (TD3), as the emulator is asked for it
MRZ = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
KEY = AccessKey.from_document("L898902C3", "740812", "120415")
# The emulator's EF.COM: LDS 0107, Unicode 040000, DO5C of length 2 holding the 4 characters "6175"
EMULATOR_COM = "60165F0104303130375F36063034303030305C0236313735"


@pytest.fixture
def epass(tmp_path: Path) -> Iterator[PcscdInstance]:
    """A private pcscd with the ePass emulator on its vpcd reader; both stopped afterwards."""
    env = {"PYTHONPATH": vicc_epass.vicc_path(tmp_path), "PATH": "/usr/bin:/bin"}
    with private_pcscd() as pcscd:
        log = (tmp_path / "vicc.log").open("wb")
        process = subprocess.Popen([sys.executable, vicc_epass.__file__, MRZ, str(pcscd.port)], env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            assert process.poll() is None, (tmp_path / "vicc.log").read_text()[-2000:]
            yield pcscd
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _read(pcscd: PcscdInstance, key: AccessKey) -> tuple[Exception, list[dict[str, object]]]:
    trace = io.StringIO()
    with connect(pcscd.reader_name, timeout=10) as transport, pytest.raises(Exception) as caught:
        read_card(transport, key, trace=APDUTrace(trace))
    return caught.value, [json.loads(line) for line in trace.getvalue().splitlines()]


def test_epass_emulator_opens_with_bac_and_stops_at_its_malformed_ef_com(epass: PcscdInstance) -> None:
    error, lines = _read(epass, KEY)
    assert isinstance(error, DecodeError)
    assert str(error) == "EF.COM, offset 22: tag 37 claims 53 bytes but only 0 remain"
    steps = [(line["step"], line["ins"], line["sw"], line["sm"]) for line in lines]
    # no EF.CardAccess (SFI read and SELECT both 6A82): BAC, which the chip accepts
    assert steps[1:3] == [("EF.CardAccess", "B0", "6A82", False), ("EF.CardAccess", "A4", "6A82", False)]
    assert ("access control", "82", "9000", False) in steps
    # EF.COM: the SFI read answered 6A82 under SM, then SELECT and READ BINARY under SM in the re-opened session
    assert ("EF.COM", "B0", "6A82", True) in steps
    assert ("EF.COM", "A4", "9000", True) in steps
    com = "".join(str(line["data"]) for line in lines if line["step"] == "EF.COM" and line["ins"] == "B0"
                  and line["sw"] == "9000")
    assert com == EMULATOR_COM
    assert len(lines) <= 20


def test_epass_emulator_wrong_mrz(epass: PcscdInstance) -> None:
    error, lines = _read(epass, AccessKey.from_document("L898902C3", "740812", "130415"))
    assert isinstance(error, ChipRefusedError)
    assert error.sw == 0x6988 and str(error).startswith("BAC step 2: the chip refused MUTUAL AUTHENTICATE")
    assert lines[-1]["ins"] == "82" and all(not line["sm"] for line in lines)
