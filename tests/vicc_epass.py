"""Run vsmartcard's ePass emulator (Debian ``python3-virtualsmartcard``, ``vicc -t ePass``) against a vpcd port.

Launched as ``python vicc_epass.py MRZ PORT``, in a subprocess whose ``PYTHONPATH`` is :func:`vicc_path`.
The Debian package (3.3+dfsg-2) cannot run ``vicc -t ePass`` on Python 3 as shipped: it installs out of
``sys.path``, imports ``Crypto`` (Debian's pycryptodome is ``Cryptodome``), asks for the MRZ with Python 2's
``raw_input``, and mixes ``str`` and ``bytes`` in its TLV packing, XOR, SM wrapping and generated files.
This launcher answers the prompts and makes those Python 2 values bytes (the meaning they had there),
nothing else: BAC, secure messaging, the file system and the files are the emulator's own.
"""

from __future__ import annotations

import builtins
import inspect
import logging
import re
import sys
from pathlib import Path
from types import ModuleType

VICC_PACKAGE = Path("/usr/lib/python3/site-packages/virtualsmartcard")
CRYPTODOME = Path("/usr/lib/python3/dist-packages/Cryptodome")


def vicc_path(shim: Path) -> str:
    """The PYTHONPATH the launcher needs; ``shim`` gets ``Crypto`` and ``Cryptodome`` links to Debian's pycryptodome."""
    for missing in (VICC_PACKAGE / "virtualsmartcard", CRYPTODOME):
        if not missing.is_dir():
            raise FileNotFoundError(f"{missing} is missing: apt-get install python3-virtualsmartcard "
                                    "python3-pycryptodome (make setup does)")
    for name in ("Crypto", "Cryptodome"):
        link = shim / name
        if not link.exists():
            link.symlink_to(CRYPTODOME)
    return f"{shim}:{VICC_PACKAGE}:{Path(__file__).parent}"


def _rewrite(module: ModuleType, *pairs: tuple[str, str]) -> None:
    source = inspect.getsource(module)
    for pattern, replacement in pairs:
        source, count = re.subn(pattern, replacement, source)
        if not count:
            raise RuntimeError(f"{module.__name__}: {pattern!r} not found (another vsmartcard version?)")
    exec(compile(source, str(module.__file__), "exec"), module.__dict__)


def _bytes_everywhere(node: object) -> None:
    """The generated file system's names and contents as bytes (Python 2 str literals in the generator)."""
    for attribute in ("dfname", "data"):
        value = getattr(node, attribute, None)
        if isinstance(value, str):
            setattr(node, attribute, value.encode("latin-1"))
    for child in getattr(node, "content", None) or ():
        _bytes_everywhere(child)


def main(mrz: str, port: int) -> None:
    answers = iter([mrz.encode("ascii"), ""])  # the MRZ, then no portrait (the generator's DG2 code is Python 2)
    builtins.raw_input = lambda prompt="": next(answers)  # type: ignore[attr-defined]
    import virtualsmartcard.utils as utils
    to_int = utils.stringtoint
    utils.stringtoint = lambda data: data if isinstance(data, int) else to_int(data)
    import virtualsmartcard.TLVutils as tlv
    _rewrite(tlv, (re.escape('return b"".join(result)'), "return result"))
    import virtualsmartcard.CryptoUtils as crypto
    crypto.operation_on_string = lambda a, b, op: bytes(op(x, y) for x, y in zip(a, b, strict=True))
    import virtualsmartcard.SEutils as se
    _rewrite(se, (r'(?<!["b])""(?!")', 'b""'), (re.escape(r'"\x01"'), r'b"\\x01"'))
    from virtualsmartcard.VirtualSmartcard import VirtualICC
    vicc = VirtualICC(None, "ePass", "localhost", port, logginglevel=logging.CRITICAL)
    _bytes_everywhere(vicc.os.mf)
    vicc.run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
