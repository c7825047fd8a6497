"""Which files a read reads: EF.COM, the data groups it (or EF.SOD, or a probe) lists, and EF.SOD.

A malformed or empty EF.COM, a chip without EF.SOD and files the chip refuses are noted, not fatal: the
verifier judges such a card.  :func:`read_listed` is also how the EAC-protected files are read again after
Terminal Authentication (:mod:`cardlib.reader.live`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cardlib.errors import CardlibError
from cardlib.lds.com import EFCOM
from cardlib.lds.files import DATA_GROUPS, EF_COM, EF_SOD, FileSpec
from cardlib.lds.sod import SOD
from cardlib.protocols.status import SW_NOT_FOUND, SW_SECURITY_STATUS
from cardlib.reader.errors import HINT_CHIP_ERROR, ChipRefusedError
from cardlib.reader.files import FileAbsentError, FileProtectedError, FileReader


def read_required(reader: FileReader, spec: FileSpec) -> bytes:
    """A file the read cannot do without (EF.COM): its absence or protection is the chip refusing the read."""
    try:
        return reader.read_file(spec)
    except FileAbsentError:
        raise ChipRefusedError(f"READ BINARY of {spec.name}: the chip has no such file", sw=SW_NOT_FOUND,
                               hint="this chip is not a complete eMRTD (ICAO 9303-10 requires the file)") from None
    except FileProtectedError:
        raise ChipRefusedError(f"READ BINARY of {spec.name}: the chip refuses to give the file",
                               sw=SW_SECURITY_STATUS, hint=HINT_CHIP_ERROR) from None


def read_files(reader: FileReader, wanted: Sequence[str] | None) -> tuple[dict[str, bytes], list[str]]:
    """EF.COM, the data groups it lists (or those ``wanted`` among them), then EF.SOD.

    A malformed (or empty) EF.COM does not stop the read: it is kept as read for the verifier to judge, a
    note says so, and the data groups come from EF.SOD instead (:func:`_read_without_com`).  A chip without
    EF.SOD is read too, with a note: nothing then proves the data, which the verifier says ("cannot tell").
    """
    files = {EF_COM.name: read_required(reader, EF_COM)}
    protected: list[str] = []
    try:
        numbers = EFCOM.decode(files[EF_COM.name]).data_groups
    except CardlibError as exc:
        _read_without_com(reader, wanted, files, protected, exc)
        return files, protected
    read_listed(reader, _chosen(numbers, wanted), files, protected, lister="EF.COM")
    _read_sod(reader, files, protected)
    return files, protected


def _read_sod(reader: FileReader, files: dict[str, bytes], protected: list[str]) -> None:
    read_listed(reader, [EF_SOD], files, protected, lister=None)
    if EF_SOD.name not in files and EF_SOD.name not in protected:
        reader.channel.notes.append("the chip has no EF.SOD (file not found, SW 6A82): nothing signed was read")


def _chosen(numbers: Sequence[int], wanted: Sequence[str] | None) -> list[FileSpec]:
    return [DATA_GROUPS[number] for number in numbers
            if number in DATA_GROUPS and (wanted is None or DATA_GROUPS[number].name in wanted)]


def read_listed(reader: FileReader, specs: Sequence[FileSpec], files: dict[str, bytes], protected: list[str], *,
                lister: str | None) -> None:
    """Read ``specs`` into ``files`` (refused ones into ``protected``).  A file ``lister`` lists but the chip
    lacks is a faulty chip; with no lister (probing) an absent file is simply not there."""
    for spec in specs:
        try:
            files[spec.name] = reader.read_file(spec)
        except FileProtectedError:
            protected.append(spec.name)
        except FileAbsentError:
            if lister is None:
                continue
            raise ChipRefusedError(f"READ BINARY of {spec.name}: {lister} lists it but the chip has no such file",
                                   hint=f"the chip's {lister} and files disagree: report the card as faulty",
                                   sw=SW_NOT_FOUND) from None


def _read_without_com(reader: FileReader, wanted: Sequence[str] | None, files: dict[str, bytes],
                      protected: list[str], error: CardlibError) -> None:
    """EF.COM does not decode: read EF.SOD, then the data groups it lists; when EF.SOD too is absent, empty or
    does not decode, probe DG1-DG16 (a data group the chip lacks is skipped).  Notes say which was done."""
    notes = reader.channel.notes
    why = "is empty" if not files[EF_COM.name] else f"does not decode ({error})"
    _read_sod(reader, files, protected)
    sod = files.get(EF_SOD.name)
    try:
        numbers = sorted(SOD.decode(sod).lds_security_object.dg_hashes) if sod else None
    except CardlibError:
        numbers = None
    if numbers is not None:
        notes.append(f"EF.COM {why}: the data groups EF.SOD lists were read")
        read_listed(reader, _chosen(numbers, wanted), files, protected, lister="EF.SOD")
        return
    state = ("refused" if EF_SOD.name in protected else "absent") if sod is None else "empty" if not sod else \
        "malformed"
    notes.append(f"EF.COM {why} and EF.SOD is {state}: DG1-DG16 were probed")
    read_listed(reader, _chosen(range(1, 17), wanted), files, protected, lister=None)
