"""Identify a ROM from its bytes: size, copier header, SHA-1, internal title, and what to do."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from kart_helpers.emulator.integration import IntegrationError, find_file
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME

KIB = 1024
MIB = 1024 * KIB
COPIER_HEADER_BYTES = 512


ROM_EXTENSIONS = (".sfc", ".smc", ".swc", ".fig", ".bin")
ROM_NAME = "rom.sfc"


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
