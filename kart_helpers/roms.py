"""The ROM doctor: import your ROM (a path, bytes or a notebook upload), identify it, and explain refusals.

A ROM is identified by its SHA-1 against the integration's ``rom.sha``, never by its name.
The doctor also copes with the usual ways a good dump arrives in a bad shape:

- a 512-byte **copier header** in front (``.smc`` files from old copiers): stripped when
  the rest has the expected SHA-1;
- a **zip archive** (detected by its magic bytes, not its name): its members are read in
  memory, with size limits, and never extracted to disk;
- a notebook **upload** (``ipywidgets.FileUpload``, its ``.value``, or one of its dicts).

The ROM is written as ``rom.sfc`` into the *user* integration folder
(``kart_helpers.integration.user_game_dir``), atomically and only after its SHA-1 is
verified, so a bad file never replaces a good one. The shipped folder is never touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kart_helpers.integration import (
    PRACTICE_GAME,
    REAL_GAME,
    IntegrationError,
    find_file,
    shipped_integrations_dir,
    user_game_dir,
)

__all__ = [
    "RomError",
    "RomReport",
    "RomStatus",
    "course_game",
    "expected_sha1s",
    "identify_rom",
    "import_rom",
    "rom_status",
]

KIB = 1024
MIB = 1024 * KIB
COPIER_HEADER_BYTES = 512
# The biggest SNES ROMs are 6 MiB; these caps leave room for that and stop zip bombs.
MAX_INPUT_BYTES = 64 * MIB  # one file or upload, as given (zip or not)
MAX_MEMBER_BYTES = 16 * MIB  # one zip member, uncompressed
MAX_ZIP_TOTAL_BYTES = 64 * MIB  # all zip members read, uncompressed
ROM_EXTENSIONS = (".sfc", ".smc", ".swc", ".fig", ".bin")
ROM_NAME = "rom.sfc"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip

# Sizes of the headerless ROMs, in bytes, where we know them.
EXPECTED_SIZES = {REAL_GAME: 512 * KIB, PRACTICE_GAME: 256 * KIB}
GAME_TITLES = {REAL_GAME: "Super Mario Kart (SNES, USA)", PRACTICE_GAME: "Practice Kart"}
NEXT_STEPS = {
    REAL_GAME: (
        "use a dump of your own USA cartridge of Super Mario Kart (.sfc or .smc, or a .zip holding one); "
        "other releases (Europe, Japan) and patched ROMs have other SHA-1s and other RAM layouts. "
        "Until then the notebooks run on Practice Kart."
    ),
    PRACTICE_GAME: (
        "Practice Kart ships with the package (integrations/PracticeKart-Snes/rom.sfc); "
        "rebuild it with `python -m practice_kart.build` or reinstall the package."
    ),
}

# File kinds people pick by mistake, by magic bytes: (prefix, what it is).
_MAGIC_KINDS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive (unpack it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first, or re-pack it as .zip)"),
    (b"Rar!\x1a\x07", "a RAR archive (unpack it first, or re-pack it as .zip)"),
    (b"PK\x03\x04", "a zip archive inside the zip (unpack the outer one first)"),
)


class RomError(ValueError):
    """The input is not the ROM a game needs, or cannot be read; the message says what it got,
    what was expected, and what to do next."""


@dataclass(frozen=True)
class RomReport:
    """What a file is, compared with the ROM that ``game`` needs.

    Attributes:
        size: length of the file, in bytes.
        sha1: SHA-1 of the whole file, lowercase hex.
        has_copier_header: True when the size is 512 bytes past a whole KiB, the mark of
            a copier header.
        stripped_sha1: SHA-1 without the first 512 bytes, when ``has_copier_header``; else None.
        internal_title: the game title in the SNES header (LoROM ``0x7FC0`` or HiROM
            ``0xFFC0``, after any copier header), when it reads as ASCII; else None.
        matches: True when ``sha1`` or ``stripped_sha1`` is an expected SHA-1.
        message: a readable explanation: a match, or what is wrong and what to do.
        game: the integration compared against, e.g. ``"MarioKart-Snes"``.
        name: how the file is named in messages (a path, an upload name, a zip member).
        kind: what the file looks like when it is clearly not a ROM (``"a PNG image"``); else None.
        expected_sha1s: the SHA-1s in the game's ``rom.sha``.
        expected_size: size of the headerless ROM, in bytes, when known; else None.
    """

    size: int
    sha1: str
    has_copier_header: bool
    stripped_sha1: str | None
    internal_title: str | None
    matches: bool
    message: str
    game: str = REAL_GAME
    name: str = "the file"
    kind: str | None = None
    expected_sha1s: tuple[str, ...] = ()
    expected_size: int | None = None

    @property
    def needs_strip(self) -> bool:
        """True when the file matches only after its 512-byte copier header is removed."""
        return self.matches and self.sha1 not in self.expected_sha1s

    def __str__(self) -> str:
        return self.message


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


# ----------------------------------------------------------------------------- identify


def expected_sha1s(game: str) -> tuple[str, ...]:
    """The SHA-1s (lowercase hex) listed in ``game``'s ``rom.sha``; one or more per file.

    Raises:
        IntegrationError: when the game has no ``rom.sha`` or it lists no SHA-1.
    """
    path = find_file(game, "rom.sha")
    if path is None:
        raise IntegrationError(f"{game}: no rom.sha in its integration folders, so no ROM can be checked for it")
    tokens = path.read_text(errors="replace").split()
    hashes = tuple(dict.fromkeys(t.lower() for t in tokens if _is_sha1(t)))
    if not hashes:
        raise IntegrationError(f"{path} lists no SHA-1 (40 hex digits); reinstall the package")
    return hashes


def identify_rom(data: bytes, game: str = REAL_GAME, name: str = "the file") -> RomReport:
    """Explain what ``data`` is and whether it is ``game``'s ROM, without writing anything.

    Args:
        data: the file's bytes (any bytes-like object).
        game: integration to compare against (``"MarioKart-Snes"`` or ``"PracticeKart-Snes"``).
        name: how to call the file in the message.

    Returns:
        A RomReport; ``str(report)`` is a readable explanation.
    """
    data = bytes(data)
    expected = expected_sha1s(game)
    has_header = len(data) % KIB == COPIER_HEADER_BYTES
    rom = data[COPIER_HEADER_BYTES:] if has_header else data
    sha1 = _sha1(data)
    stripped_sha1 = _sha1(rom) if has_header else None
    report = RomReport(
        size=len(data),
        sha1=sha1,
        has_copier_header=has_header,
        stripped_sha1=stripped_sha1,
        internal_title=_internal_title(rom),
        matches=sha1 in expected or stripped_sha1 in expected,
        message="",
        game=game,
        name=name,
        kind=_guess_kind(data),
        expected_sha1s=expected,
        expected_size=EXPECTED_SIZES.get(game),
    )
    return _with_message(report)


def _with_message(report: RomReport) -> RomReport:
    """The report with its ``message`` filled in."""
    if report.matches:
        how = " after stripping its 512-byte copier header" if report.needs_strip else ""
        sha1 = report.stripped_sha1 if report.needs_strip else report.sha1
        message = f"{_cap(report.name)} is the {_title(report.game)} ROM for {report.game}{how} (SHA-1 {sha1})."
    else:
        message = "\n".join(
            [
                f"{_cap(report.name)} is not the {_title(report.game)} ROM that {report.game} needs.",
                f"  got:      {_describe(report)}",
                f"  expected: {_describe_expected(report.game, report.expected_sha1s)}",
                f"  why:      {_diagnosis(report)}",
                f"  next:     {_next_step(report.game)}",
            ]
        )
    return dataclasses.replace(report, message=message)


def _describe(report: RomReport) -> str:
    """One line: size, SHA-1, header guess, internal title, file kind."""
    parts = [_size(report.size), f"SHA-1 {report.sha1}"]
    if report.has_copier_header:
        parts.append(f"512-byte copier header present (without it: SHA-1 {report.stripped_sha1})")
    elif not report.kind:
        parts.append("512-byte copier header absent")
    if report.internal_title:
        parts.append(f"internal title {report.internal_title!r}")
    elif report.size >= 32 * KIB and not report.kind:
        parts.append("no readable internal title")
    if report.kind:
        parts.append(f"looks like {report.kind}")
    return ", ".join(parts)


def _describe_expected(game: str, hashes: tuple[str, ...]) -> str:
    size = EXPECTED_SIZES.get(game)
    shape = f"headerless .sfc, {size // KIB} KiB ({size:,} bytes)" if size else "headerless .sfc"
    sha = "SHA-1 " + " or ".join(hashes)
    return f"{_title(game)}: {shape}, {sha} (a 512-byte copier header is fine; it is stripped)"


def _diagnosis(report: RomReport) -> str:
    """Why it does not match, in one sentence, from what the file looks like."""
    rom_size = report.size - COPIER_HEADER_BYTES if report.has_copier_header else report.size
    expected = report.expected_size
    if report.size == 0:
        return "the file is empty (0 bytes): the copy or upload did not finish."
    if report.kind:
        return f"it is {report.kind}, not a SNES ROM."
    if expected and rom_size == expected:
        return (
            "the size is right but the SHA-1 is not: probably another release (Europe, Japan), "
            "another revision, or a patched or damaged dump."
        )
    if rom_size % (32 * KIB):
        return "its size is not a whole number of 32 KiB banks: a truncated copy or not a SNES ROM."
    if expected and rom_size < expected:
        return "it is smaller than the expected ROM: a truncated copy or a different game."
    if expected and rom_size > expected:
        return "it is bigger than the expected ROM: a different game or an expanded or patched ROM."
    return "its SHA-1 is not the expected one: a different game, release or dump."


def _next_step(game: str) -> str:
    return NEXT_STEPS.get(game, f"find the ROM whose SHA-1 is in {game}'s rom.sha.")


def _cap(text: str) -> str:
    """Capitalise our own phrases ("the data you passed"); a path or a file name keeps its case."""
    return text[:1].upper() + text[1:] if text.startswith(("the ", "uploaded ")) else text


def _title(game: str) -> str:
    return GAME_TITLES.get(game, game)


def _size(n: int) -> str:
    """``524,288 bytes (512 KiB)``; bytes alone below 1 KiB."""
    if n < KIB:
        return f"{n:,} bytes"
    if n >= 10 * MIB:
        return f"{n:,} bytes ({n / MIB:.1f} MiB)"
    kib = f"{n / KIB:.1f}".removesuffix(".0")
    return f"{n:,} bytes ({kib} KiB)"


def _internal_title(rom: bytes) -> str | None:
    """The 21-byte title of the SNES header, trying LoROM (0x7FC0) then HiROM (0xFFC0).

    A header whose checksum and complement add up (XOR to 0xFFFF) wins over one that only
    reads as ASCII, because random data often contains a printable run.
    """
    fallback = None
    for offset in (0x7FC0, 0xFFC0):
        raw = rom[offset : offset + 21]
        if len(raw) < 21 or not all(0x20 <= b < 0x7F for b in raw):
            continue
        title = raw.decode("ascii").strip()
        if sum(c.isalpha() for c in title) < 2:
            continue
        complement = int.from_bytes(rom[offset + 0x1C : offset + 0x1E], "little")
        checksum = int.from_bytes(rom[offset + 0x1E : offset + 0x20], "little")
        if complement ^ checksum == 0xFFFF:
            return title
        fallback = fallback or title
    return fallback


def _guess_kind(data: bytes) -> str | None:
    """What ``data`` is when it is clearly not a ROM (an image, a web page, text); else None."""
    if not data:
        return "an empty file"
    for magic, kind in _MAGIC_KINDS:
        if data.startswith(magic):
            return kind
    head = data[:4096]
    if head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a download link saved as a web page?)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:
            return None
        text = head[: err.start].decode("utf-8")  # a character cut at the sample's end is still text
    if all(c.isprintable() or c in "\r\n\t\f" for c in text):
        return "a text file"
    return None


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_sha1(token: str) -> bool:
    return len(token) == 40 and all(c in "0123456789abcdefABCDEF" for c in token)


# ----------------------------------------------------------------------------- read inputs


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


# ----------------------------------------------------------------------------- import


def import_rom(source: Any, game: str = REAL_GAME) -> Path:
    """Import a ROM into the user integration folder as ``rom.sfc``, after checking its SHA-1.

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
    lines += [f"    - {r.name}: {_describe(r)}\n      why: {_diagnosis(r)}" for r in refused]
    lines += [f"    - {note}" for note in skipped]
    lines += [
        f"  expected: {_describe_expected(game, expected_sha1s(game))}",
        f"  next:     {_next_step(game)}",
        _nothing_written(game),
    ]
    return "\n".join(line for line in lines if line)


def _nothing_written(game: str) -> str:
    dest = user_game_dir(game) / ROM_NAME
    if dest.is_file():
        return f"Nothing was written: your existing {dest} is unchanged."
    return "Nothing was written."


def _install(rom: bytes, game: str) -> Path:
    """Write ``rom`` to the user folder's ``rom.sfc``: temp file, verify SHA-1, atomic replace."""
    folder = user_game_dir(game)
    _refuse_shipped_folder(folder, game)
    dest = folder / ROM_NAME
    sha1 = _sha1(rom)
    if dest.is_file() and _file_sha1(dest) == sha1:
        return dest  # already imported; rewriting would only risk it
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".rom.sfc.", suffix=".part")
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


def _refuse_shipped_folder(folder: Path, game: str) -> None:
    """Never write into the package: KART_INTEGRATIONS must not point at the shipped folder."""
    try:
        shipped = (shipped_integrations_dir() / game).resolve()
    except IntegrationError:
        return
    if folder.resolve() == shipped:
        raise RomError(
            f"The user folder {folder} is the package's own integrations folder; set KART_INTEGRATIONS "
            "to a folder of your own (or unset it to use ~/.kart_rl/integrations) and import again."
        )


# ----------------------------------------------------------------------------- status


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
