"""A private pcscd with the vsmartcard virtual reader (vpcd), for emulation, tests and the demo.

pcsc-lite's daemon (1.9) always creates its client socket at ``/run/pcscd/pcscd.comm`` and removes that
directory's files on exit, while the client library honours ``PCSCLITE_CSOCK_NAME``.  To run a daemon
of our own next to (or instead of) a system one, we start pcscd in a private mount namespace where a
temporary directory is bind-mounted over ``/run/pcscd``; clients reach it through ``PCSCLITE_CSOCK_NAME``
pointing at the temporary directory.  The reader configuration is our own too (``pcscd -c DIR``), with a
vpcd ``CHANNELID`` on a free TCP port pair, so several instances never clash.

libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, so each process uses one socket directory
(named after its pid) for all the daemons it starts, one after another; nested :func:`private_pcscd`
blocks share the running daemon.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardlib.errors import CardlibError

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SYSTEM_SOCKET = Path("/run/pcscd/pcscd.comm")
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
DEFAULT_VPCD_PORT = 0x8C7B
READER_NAME = "Virtual PCD 00 00"
STARTUP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.02


class PcscdError(CardlibError):
    """pcscd or the vpcd driver is missing, or the daemon did not start."""


@dataclass(frozen=True)
class PcscdInstance:
    """What a PC/SC client and a virtual card need to reach a running pcscd with the vpcd reader.

    ``port`` is where the vpcd driver waits for the first virtual card (reader ``Virtual PCD 00 00``);
    the driver also opens ``port + 1`` for a second slot.  ``env`` holds the variables a client process
    needs (``PCSCLITE_CSOCK_NAME``); :func:`private_pcscd` also sets them in this process.
    """

    socket_path: Path
    port: int
    reader_name: str = READER_NAME
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Running:
    instance: PcscdInstance
    process: subprocess.Popen[bytes]
    workdir: Path
    users: int = 1


_lock = threading.Lock()
_running: _Running | None = None


def require_pcsc_stack() -> Path:
    """The path of the pcscd executable; PcscdError naming the Debian package to install when absent."""
    binary = shutil.which("pcscd") or next(
        (str(p) for p in (Path("/usr/sbin/pcscd"), Path("/sbin/pcscd")) if p.exists()), None)
    if binary is None:
        raise PcscdError("pcscd is not installed: apt-get install pcscd")
    if not VPCD_DRIVER.exists():
        raise PcscdError(f"the vpcd reader driver {VPCD_DRIVER} is missing: apt-get install vsmartcard-vpcd")
    return Path(binary)


def free_port_pair() -> int:
    """A TCP port ``p`` such that ``p`` and ``p + 1`` are both free on localhost (vpcd uses two slots)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    raise PcscdError("no free TCP port pair for the vpcd reader")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def reader_conf(port: int) -> str:
    """A reader.conf entry for the vpcd driver whose virtual cards connect to TCP ``port``."""
    return (f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x{port:04X}\n'
            f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{port:04X}\n")


@contextmanager
def private_pcscd(*, port: int | None = None, debug: bool = False) -> Iterator[PcscdInstance]:
    """Run a private pcscd with one vpcd reader for the duration of the block, and stop it afterwards.

    Inside a block that is already running one, the same daemon is returned (``port`` must then be None
    or equal).  Requires root (mount namespace); raises PcscdError when pcscd or vpcd is missing or the
    daemon does not come up within a few seconds.
    """
    global _running
    with _lock:
        if _running is not None:
            if port not in (None, _running.instance.port):
                raise PcscdError(f"a private pcscd on port {_running.instance.port} is already running")
            _running.users += 1
            running = _running
        else:
            running = _start(port if port is not None else free_port_pair(), debug)
            _running = running
    try:
        yield running.instance
    finally:
        with _lock:
            running.users -= 1
            if running.users == 0:
                _stop(running)
                _running = None


def _socket_dir() -> Path:
    """This process's socket directory, made once and removed when the process exits."""
    run_dir = Path(tempfile.gettempdir()) / f"cardlib-pcscd-{os.getpid()}"
    if not run_dir.exists():
        run_dir.mkdir(mode=0o755)
        atexit.register(shutil.rmtree, run_dir, ignore_errors=True)
    return run_dir


def _start(port: int, debug: bool) -> _Running:
    binary = require_pcsc_stack()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise PcscdError("a private pcscd needs root and unshare (util-linux) to get its own /run/pcscd")
    run_dir = _socket_dir()
    for stale in run_dir.iterdir():
        stale.unlink()
    workdir = Path(tempfile.mkdtemp(prefix="cardlib-pcscd-conf-"))
    (workdir / "vpcd").write_text(reader_conf(port))
    log = (workdir / "pcscd.log").open("wb")
    command = [str(binary), "-f", "-c", str(workdir)] + (["-d"] if debug else [])
    script = f'mkdir -p /run/pcscd && mount --bind "{run_dir}" /run/pcscd && exec "$@"'
    process = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "pcscd", *command],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    log.close()
    socket_path = run_dir / "pcscd.comm"
    instance = PcscdInstance(socket_path, port, env={SOCKET_ENV: str(socket_path)})
    running = _Running(instance, process, workdir)
    try:
        _wait_ready(process, socket_path, workdir)
    except PcscdError:
        _stop(running)
        raise
    os.environ[SOCKET_ENV] = str(socket_path)
    return running


def _wait_ready(process: subprocess.Popen[bytes], socket_path: Path, workdir: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (workdir / "pcscd.log").read_text(errors="replace")[-800:]
            raise PcscdError(f"pcscd exited with status {process.returncode}: {log}")
        if socket_path.exists() and _accepts(socket_path):
            return
        time.sleep(_POLL_INTERVAL)
    raise PcscdError(f"pcscd did not open {socket_path} within {STARTUP_TIMEOUT:.0f} s")


def _accepts(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
    return True


def end_process(process: subprocess.Popen[Any], *, grace: float = 5.0) -> None:
    """Stop ``process`` if it still runs: SIGTERM, then SIGKILL when it has not exited after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _stop(running: _Running) -> None:
    end_process(running.process)
    if os.environ.get(SOCKET_ENV) == str(running.instance.socket_path):
        del os.environ[SOCKET_ENV]
    shutil.rmtree(running.workdir, ignore_errors=True)
