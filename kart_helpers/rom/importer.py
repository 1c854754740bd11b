"""The ROM doctor: import your ROM (a path, bytes or a notebook upload), identify it, and explain refusals.

A ROM is identified by its SHA-1 against the integration's ``rom.sha``, never by its name.
The doctor also copes with the usual ways a good dump arrives in a bad shape:

- a 512-byte **copier header** in front (``.smc`` files from old copiers): stripped when
  the rest has the expected SHA-1;
- a **zip archive** (detected by its magic bytes, not its name): its members are read in
  memory, with size limits, and never extracted to disk;
- a notebook **upload** (``ipywidgets.FileUpload``, its ``.value``, or one of its dicts).

The ROM is written as ``rom.sfc`` into the *user* integration folder
(``kart_helpers.emulator.integration.user_game_dir``), atomically and only after its SHA-1 is
verified, so a bad file never replaces a good one. The shipped folder is never touched.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kart_helpers.emulator.integration import IntegrationError, find_file, refuse_shipped, rom_names, user_game_dir
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.rom.identify import (
    COPIER_HEADER_BYTES,
    MIB,
    ROM_EXTENSIONS,
    ROM_NAME,
    RomError,
    RomReport,
    _cap,
    _describe,
    _describe_expected,
    _diagnosis,
    _file_sha1,
    _next_step,
    _sha1,
    _size,
    _title,
    expected_sha1s,
    identify_rom,
)

# The biggest SNES ROMs are 6 MiB; these caps leave room for that and stop zip bombs.
MAX_INPUT_BYTES = 64 * MIB  # one file or upload, as given (zip or not)
MAX_MEMBER_BYTES = 16 * MIB  # one zip member, uncompressed
MAX_ZIP_TOTAL_BYTES = 64 * MIB  # all zip members read, uncompressed


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
MAX_LISTED = 20  # files described in a refusal; the rest are counted


@dataclass(frozen=True)
class _Candidate:
    """One file that might be the ROM: a path, an upload, or a zip member."""

    name: str
    data: bytes


def _source_items(source: Any) -> list[_Candidate]:
    """The files in ``source`` (path, bytes, upload value, upload widget), each read whole."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return [_checked(_Candidate("the data you passed", bytes(source)))]
    if isinstance(source, (str, os.PathLike)):
        return [_read_path(Path(source))]
    if isinstance(source, Mapping):
        return _mapping_items(source)
    if isinstance(source, (tuple, list)):
        if not source:
            raise RomError("Nothing uploaded yet: choose your ROM file with the upload button, then run this again.")
        return [item for part in source for item in _source_items(part)]
    if hasattr(source, "value"):  # an ipywidgets FileUpload (not imported: ipywidgets is optional)
        return _source_items(source.value)
    raise RomError(
        f"import_rom cannot read a {type(source).__name__}: pass a file path, bytes, "
        "or an ipywidgets FileUpload (or its .value)."
    )


def _mapping_items(source: Mapping) -> list[_Candidate]:
    """An upload dict (ipywidgets 8: name, content, ...) or an ipywidgets 7 ``{name: {content}}``."""
    if "content" in source:
        name = source.get("name")
        label = f"uploaded file {name!r}" if name else "the uploaded file"
        return [_checked(_Candidate(label, bytes(source["content"])))]
    if not source:
        raise RomError("Nothing uploaded yet: choose your ROM file with the upload button, then run this again.")
    if all(isinstance(v, Mapping) and "content" in v for v in source.values()):
        return [item for name, v in source.items() for item in _mapping_items({"name": name, **v})]
    raise RomError(f"This dict is not an upload (no 'content' key; keys: {', '.join(map(str, source))}).")


def _read_path(path: Path) -> _Candidate:
    """Read a ROM file, with clear errors for a missing path, a folder, or a huge file."""
    path = path.expanduser()
    shown = str(path) if path.is_absolute() else f"{path} (relative to {Path.cwd()})"
    if not path.exists():
        raise RomError(f"No file at {shown}. Check the path and the file name (with its extension), then try again.")
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (*ROM_EXTENSIONS, ".zip"))
        hint = f"; ROM-like files in it: {', '.join(inside[:10])}" if inside else "; it holds no .sfc/.smc/.zip file"
        raise RomError(f"{shown} is a folder, not a ROM file. Pass the ROM file itself{hint}.")
    if not path.is_file():
        raise RomError(f"{shown} is not a regular file. Pass the ROM file itself.")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)  # bounded: a wrong path to a huge file must not fill memory
    except OSError as err:
        raise RomError(f"Cannot read {shown}: {err.strerror or err}.") from err
    return _checked(_Candidate(str(path), data))


def _checked(item: _Candidate) -> _Candidate:
    """Refuse an empty or oversized input before any hashing or unzipping."""
    if not item.data:
        raise RomError(f"{_cap(item.name)} is empty (0 bytes): the copy or upload did not finish. Pick the file again.")
    if len(item.data) > MAX_INPUT_BYTES:
        raise RomError(
            f"{_cap(item.name)} is over {MAX_INPUT_BYTES // MIB} MiB; a SNES ROM is at most 6 MiB. "
            "Pick the ROM file itself."
        )
    return item


def _is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def _zip_members(archive: _Candidate, skipped: list[str]) -> Iterator[_Candidate]:
    """The members of a zip, read in memory, ROM extensions first; refusals go to ``skipped``.

    Names are only labels: nothing is extracted, so ``../evil.sfc`` cannot escape anywhere.
    Each member's declared size is checked before it is opened, and the read itself is
    bounded too, because the declared size can lie.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(archive.data))
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError) as err:
        skipped.append(f"{archive.name}: looks like a zip but cannot be opened ({err})")
        return
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        members.sort(key=lambda m: not m.filename.lower().endswith(ROM_EXTENSIONS))
        total = 0
        for member in members:
            label = f"{member.filename!r} in {archive.name}"
            if member.file_size > MAX_MEMBER_BYTES:
                size = _size(member.file_size)
                skipped.append(f"{label}: skipped, {size} uncompressed, over the {MAX_MEMBER_BYTES // MIB} MiB limit")
                continue
            if total + member.file_size > MAX_ZIP_TOTAL_BYTES:
                skipped.append(f"{label}: skipped, the zip's members add up to over {MAX_ZIP_TOTAL_BYTES // MIB} MiB")
                continue
            data = _read_member(zf, member, label, skipped)
            if data is None:
                continue
            total += len(data)
            yield _Candidate(label, data)


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, skipped: list[str]) -> bytes | None:
    """A member's bytes, read at most ``MAX_MEMBER_BYTES + 1``; None (and a note) when unreadable."""
    try:
        with zf.open(member) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)
    except RuntimeError as err:  # zipfile's error for encrypted members
        skipped.append(f"{label}: skipped, cannot be read ({err}); re-pack it without a password")
        return None
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError, ValueError) as err:
        skipped.append(f"{label}: skipped, damaged or unsupported compression ({err})")
        return None
    if len(data) > MAX_MEMBER_BYTES:
        skipped.append(
            f"{label}: skipped, bigger than its declared size and over the {MAX_MEMBER_BYTES // MIB} MiB limit"
        )
        return None
    return data


def _candidates(items: list[_Candidate], skipped: list[str]) -> Iterator[_Candidate]:
    """Every file that might be the ROM: plain inputs as they are, zips opened lazily."""
    for item in items:
        if _is_zip(item.data):
            yield from _zip_members(item, skipped)
        else:
            yield item


def import_rom(source: Any, game: str = REAL_GAME) -> Path:
    """Import a ROM into the user integration folder as ``rom.sfc`` (the console's name:
    ``rom.md`` for a ``-Genesis`` game), after checking its SHA-1 against the game's ``rom.sha``.

    Args:
        source: a path (str or Path), the file's bytes, an ipywidgets ``FileUpload``, its
            ``.value`` (a tuple of dicts with ``name`` and ``content``), or one such dict.
            A zip archive (by content, not name) is searched for the ROM in memory.
        game: integration to import for; its ``rom.sha`` decides what is accepted.

    Returns:
        Path of the written ``rom.sfc`` (``user_game_dir(game) / "rom.sfc"``).

    Raises:
        RomError: the input is missing, empty, unreadable or not the right ROM; the
            message says what was got, what was expected and what to do. Nothing is
            written then, and an existing ``rom.sfc`` is left as it was.
        IntegrationError: ``game`` has no ``rom.sha``.
    """
    expected_sha1s(game)  # fail on an unknown game before reading anything
    items = _source_items(source)
    skipped: list[str] = []
    refused: list[RomReport] = []
    for candidate in _candidates(items, skipped):
        report = identify_rom(candidate.data, game, name=candidate.name)
        if report.matches:
            rom = candidate.data[COPIER_HEADER_BYTES:] if report.needs_strip else candidate.data
            return _install(rom, game)
        refused.append(report)
    raise RomError(_refusal(items, refused, skipped, game))


def _refusal(items: list[_Candidate], refused: list[RomReport], skipped: list[str], game: str) -> str:
    """The error message when no candidate matched."""
    if len(refused) == 1 and not skipped and len(items) == 1 and not _is_zip(items[0].data):
        return f"{refused[0].message}\n{_nothing_written(game)}"
    names = ", ".join(i.name for i in items)
    count = len(refused) + len(skipped)
    if count == 0:
        head = f"{_cap(names)} is an empty zip archive: there is no file in it."
    elif count == 1:
        head = f"The one file in {names} is not the {_title(game)} ROM that {game} needs."
    else:
        head = f"None of the {count} files from {names} is the {_title(game)} ROM that {game} needs."
    lines = [head, "  files:" if count else ""]
    entries = [f"    - {r.name}: {_describe(r)}\n      why: {_diagnosis(r)}" for r in refused]
    entries += [f"    - {note}" for note in skipped]
    lines += entries[:MAX_LISTED]
    if len(entries) > MAX_LISTED:  # a zip of thousands of files must not give thousands of lines
        lines.append(f"    ... and {len(entries) - MAX_LISTED:,} more files, not shown")
    lines += [
        f"  expected: {_describe_expected(game, expected_sha1s(game))}",
        f"  next:     {_next_step(game)}",
        _nothing_written(game),
    ]
    return "\n".join(line for line in lines if line)


def _nothing_written(game: str) -> str:
    dest = user_game_dir(game) / rom_names(game)[0]
    if dest.is_file():
        return f"Nothing was written: your existing {dest} is unchanged."
    return "Nothing was written."


def _install(rom: bytes, game: str) -> Path:
    """Write ``rom`` to the user folder's ``rom.sfc``: temp file, verify SHA-1, atomic replace."""
    folder = refuse_shipped(user_game_dir(game), RomError)
    dest = folder / rom_names(game)[0]  # rom.sfc on SNES, rom.md on Genesis: stable-retro picks the core by it
    sha1 = _sha1(rom)
    if dest.is_file() and _file_sha1(dest) == sha1:
        return dest  # already imported; rewriting would only risk it
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(rom)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename, so a crash cannot leave half a ROM
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a ROM is not a secret
        written = _file_sha1(tmp)
        if written != sha1:
            raise RomError(
                f"Writing {dest} failed verification (SHA-1 {written} on disk, {sha1} expected): "
                "is the disk full or failing? Your existing rom.sfc, if any, is unchanged."
            )
        os.replace(tmp, dest)  # atomic on one filesystem: readers see the old ROM or the new one
    except OSError as err:
        raise RomError(f"Could not write {dest}: {err}. Your existing rom.sfc, if any, is unchanged.") from err
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return dest


@dataclass(frozen=True)
class RomStatus:
    """Which game the notebooks should use.

    Attributes:
        game: ``"MarioKart-Snes"`` when your imported ROM is present and verified,
            else ``"PracticeKart-Snes"``.
        real_rom: path of the verified Super Mario Kart ``rom.sfc``, or None.
        practice_rom: path of Practice Kart's ``rom.sfc``.
        message: one line saying which game is used and why.
    """

    game: str
    real_rom: Path | None
    practice_rom: Path
    message: str

    def __str__(self) -> str:
        return self.message


def rom_status() -> RomStatus:
    """Which game the notebooks should use: Super Mario Kart when your imported ROM is present
    and its SHA-1 matches, else Practice Kart.

    Raises:
        IntegrationError: Practice Kart's ROM is missing (a broken install).
    """
    practice = find_file(PRACTICE_GAME, ROM_NAME)
    if practice is None:
        raise IntegrationError(f"{PRACTICE_GAME}: rom.sfc is missing; it ships with the package, so reinstall it")
    real = find_file(REAL_GAME, ROM_NAME)
    if real is None:
        message = "Using Practice Kart (no Super Mario Kart ROM imported; see notebook 01)"
        return RomStatus(PRACTICE_GAME, None, practice, message)
    if _file_sha1(real) in expected_sha1s(REAL_GAME):
        return RomStatus(REAL_GAME, real, practice, f"Using Super Mario Kart (your ROM at {real})")
    message = f"Using Practice Kart (the Super Mario Kart ROM at {real} has the wrong SHA-1; re-import it, notebook 01)"
    return RomStatus(PRACTICE_GAME, None, practice, message)


def course_game() -> str:
    """The game the notebooks use: ``rom_status().game``."""
    return rom_status().game
