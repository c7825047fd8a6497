"""The README's SoftHSM2 steps, run as printed (paths moved into a temporary folder, PINs typed at the prompts)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tools" / "cardtool" / "samples"
SO_PIN, USER_PIN = "so-secret-1234", "user-secret-1234"
ANSWERS = ((b"SO PIN:", SO_PIN), (b"user PIN:", USER_PIN))


def _token_steps() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"### The Document Signer key in a token \(SoftHSM2\)\n.*?```sh\n(.*?)```", readme, re.S)
    assert found is not None, "the README lost its SoftHSM2 steps"
    return found.group(1)


class _Typist:
    """Types each PIN once at its prompt, then the PIN file's line and Ctrl-D once the token exists."""

    def __init__(self, controller: int) -> None:
        self.controller = controller
        self.answered = 0
        self.pin_file_written = False

    def react(self, seen: bytes) -> None:
        """Answer what the terminal has shown so far and not answered yet."""
        prompts = sorted((match.start(), pin) for prompt, pin in ANSWERS
                         for match in re.finditer(re.escape(prompt), seen))
        for _, pin in prompts[self.answered:]:
            os.write(self.controller, pin.encode() + b"\n")
        self.answered = len(prompts)
        if b"token has been initialized" in seen and not self.pin_file_written:
            time.sleep(0.5)  # let `cat` start reading
            os.write(self.controller, USER_PIN.encode() + b"\n\x04")
            self.pin_file_written = True


def _run_in_terminal(script: Path, cwd: Path, env: dict[str, str], deadline: float) -> tuple[int, str]:
    """Run ``sh script`` on a pseudo-terminal, typing the PINs when asked (softhsm2-util reads them from a tty)."""
    controller, terminal = os.openpty()
    process = subprocess.Popen(["sh", "-e", str(script)], cwd=cwd, env=env, stdin=terminal, stdout=terminal,
                               stderr=terminal, start_new_session=True)
    os.close(terminal)
    seen, typist = b"", _Typist(controller)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(controller, 4096)
                except OSError:  # the terminal closed: every process on it is done
                    break
                typist.react(seen)
            elif process.poll() is not None:
                break
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), seen.decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:  # past the deadline: stop the steps this test started
            process.kill()


def test_the_readme_softhsm2_steps_make_a_token_pki_and_personalize(tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None:
        raise AssertionError("softhsm2-util is needed (make setup installs softhsm2)")
    steps = _token_steps().replace("/etc/cardlib", str(tmp_path / "etc")).replace("/var/lib/cardlib",
                                                                                  str(tmp_path / "var"))
    (tmp_path / "steps.sh").write_text(steps, encoding="utf-8")
    shutil.copy(SAMPLES / "residents.csv", tmp_path / "residents.csv")
    shutil.copytree(SAMPLES / "portraits", tmp_path / "portraits")
    shutil.copytree(SAMPLES / "fingers", tmp_path / "fingers")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    status, output = _run_in_terminal(tmp_path / "steps.sh", tmp_path, env, time.monotonic() + 240)
    assert status == 0, output
    assert "private keys in token 'cardlib-ds'" in output
    assert "8 personalized, 0 rejected" in output
    assert (tmp_path / "etc" / "token.pin").stat().st_mode & 0o077 == 0, "the PIN file is the operator's alone"
    assert USER_PIN not in output.replace(f"{USER_PIN}\r\n", "", 1), "the PIN is shown nowhere but where typed"
    lines = (tmp_path / "batch-01" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["personalized"] * 8
    assert not list((tmp_path / "pki").glob("*.key.pem")), "no private key in a file"
