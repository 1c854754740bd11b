"""The ROM doctor: imports, copier headers, zips, uploads, refusals, and which game the course uses.

The real Super Mario Kart ROM is never available, so the mechanism is tested by importing
copies of Practice Kart's own ROM for ``PracticeKart-Snes``, and Super Mario Kart's side by
its refusals (or with its expected SHA-1 monkeypatched to Practice Kart's).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
import zipfile
from pathlib import Path

import pytest
from file_hashes import hashes

from kart_helpers.emulator.integration import game_dir, shipped_integrations_dir
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.rom import identify, importer
from kart_helpers.rom.identify import RomError, identify_rom
from kart_helpers.rom.importer import course_game, import_rom, rom_status

SMK_SHA1 = "47e103d8398cf5b7cbb42b95df3a3c270691163b"
SHIPPED_ROM = game_dir(PRACTICE_GAME) / "rom.sfc"
ROM = SHIPPED_ROM.read_bytes()
ROM_SHA1 = (game_dir(PRACTICE_GAME) / "rom.sha").read_text().split()[0]


@pytest.fixture(autouse=True)
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user integrations folder per test."""
    folder = tmp_path / "user_integrations"
    monkeypatch.setenv("KART_INTEGRATIONS", str(folder))
    return folder


def practice_dest(user_dir: Path) -> Path:
    return user_dir / PRACTICE_GAME / "rom.sfc"


def leftovers(folder: Path) -> list[Path]:
    """Temp files an import might have left behind."""
    return list(folder.rglob(".rom.sfc.*")) if folder.exists() else []


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def refusal(source: object, game: str = REAL_GAME) -> str:
    with pytest.raises(RomError) as err:
        import_rom(source, game=game)
    return str(err.value)


# ----------------------------------------------------------------------------- identify


def test_practice_rom_facts_agree_with_the_module():
    assert hashlib.sha1(ROM).hexdigest() == ROM_SHA1
    assert len(ROM) == identify.EXPECTED_SIZES[PRACTICE_GAME] == 256 * 1024
    assert identify.expected_sha1s(PRACTICE_GAME) == (ROM_SHA1,)
    assert identify.expected_sha1s(REAL_GAME) == (SMK_SHA1,)


def test_identify_rom_explains_a_match_without_writing(user_dir):
    report = identify_rom(ROM, PRACTICE_GAME)
    assert (report.size, report.sha1, report.matches) == (len(ROM), ROM_SHA1, True)
    assert not report.has_copier_header and report.stripped_sha1 is None and not report.needs_strip
    assert report.internal_title == "PRACTICE KART"
    assert str(report) == report.message and ROM_SHA1 in report.message
    named = identify_rom(ROM, PRACTICE_GAME, name="rom.sfc")
    assert named.message == f"rom.sfc is the Practice Kart ROM for PracticeKart-Snes (SHA-1 {ROM_SHA1})."
    assert not practice_dest(user_dir).exists()


def test_identify_rom_reads_a_hirom_title():
    data = bytearray(64 * 1024)
    data[0xFFC0 : 0xFFC0 + 21] = b"HIROM TEST GAME".ljust(21)
    data[0xFFDC:0xFFE0] = struct.pack("<HH", 0x1234 ^ 0xFFFF, 0x1234)
    report = identify_rom(bytes(data), PRACTICE_GAME)
    assert report.internal_title == "HIROM TEST GAME"
    assert not report.matches and "internal title 'HIROM TEST GAME'" in report.message


def test_rom_sha_may_list_several_hashes(user_dir):
    sha_file = user_dir / PRACTICE_GAME / "rom.sha"
    sha_file.parent.mkdir(parents=True)
    sha_file.write_text(f"{'A' * 40}  other-release.sfc\n{ROM_SHA1.upper()}\n")
    assert identify.expected_sha1s(PRACTICE_GAME) == ("a" * 40, ROM_SHA1)
    assert import_rom(ROM, PRACTICE_GAME).read_bytes() == ROM


# ----------------------------------------------------------------------------- good imports


def test_import_from_path_writes_the_user_folder_only(tmp_path, user_dir, capsys):
    shipped_before = (SHIPPED_ROM.stat().st_mtime_ns, SHIPPED_ROM.read_bytes())
    source = tmp_path / "My Practice Kart.sfc"
    source.write_bytes(ROM)
    for path in (source, str(source)):
        dest = import_rom(path, game=PRACTICE_GAME)
        assert dest.resolve() == practice_dest(user_dir).resolve()
        assert dest.read_bytes() == ROM
    assert (SHIPPED_ROM.stat().st_mtime_ns, SHIPPED_ROM.read_bytes()) == shipped_before
    assert not leftovers(user_dir)
    assert capsys.readouterr() == ("", ""), "import_rom prints nothing; the notebook shows the result"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_import_from_bytes(user_dir, kind):
    dest = import_rom(kind(ROM), game=PRACTICE_GAME)
    assert dest.read_bytes() == ROM


def upload_dict(name: str, data: bytes) -> dict:
    """One entry of an ipywidgets 8 ``FileUpload.value``."""
    return {"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": 0}


class FakeFileUpload:
    """Stands in for ipywidgets.FileUpload, which the tests do not need installed."""

    def __init__(self, *files: dict):
        self.value = tuple(files)


@pytest.mark.parametrize(
    "make_source",
    [
        lambda: (upload_dict("kart.sfc", ROM),),  # ipywidgets 8 value
        lambda: upload_dict("kart.sfc", ROM),  # one of its dicts
        lambda: FakeFileUpload(upload_dict("kart.sfc", ROM)),  # the widget itself
        lambda: {"kart.sfc": {"metadata": {}, "content": ROM}},  # ipywidgets 7 value
        lambda: (upload_dict("notes.txt", b"hello\n"), upload_dict("kart.smc", bytes(512) + ROM)),
    ],
    ids=["value", "dict", "widget", "ipywidgets7", "two-files"],
)
def test_import_from_upload(user_dir, make_source):
    assert import_rom(make_source(), game=PRACTICE_GAME).read_bytes() == ROM


def test_copier_header_is_stripped_and_verified(tmp_path, user_dir):
    headered = random.Random(0).randbytes(512) + ROM
    report = identify_rom(headered, PRACTICE_GAME, name="kart.smc")
    assert report.has_copier_header and report.needs_strip and report.matches
    assert report.stripped_sha1 == ROM_SHA1 and report.sha1 != ROM_SHA1
    assert "after stripping its 512-byte copier header" in report.message
    source = tmp_path / "kart.smc"
    source.write_bytes(headered)
    dest = import_rom(source, game=PRACTICE_GAME)
    assert dest.read_bytes() == ROM and hashlib.sha1(dest.read_bytes()).hexdigest() == ROM_SHA1


def test_zip_is_found_by_content_not_name(tmp_path, user_dir):
    archive = tmp_path / "download"  # no .zip extension on purpose
    archive.write_bytes(make_zip({"readme.txt": b"dumped by me\n", "Practice Kart (World).smc": bytes(512) + ROM}))
    assert import_rom(archive, game=PRACTICE_GAME).read_bytes() == ROM


def test_zip_member_names_never_touch_the_disk(tmp_path, user_dir, monkeypatch):
    def no_extraction(*args, **kwargs):
        raise AssertionError("import_rom must read members in memory, never extract them")

    monkeypatch.setattr(zipfile.ZipFile, "extract", no_extraction)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_extraction)
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    archive = work / "evil.zip"
    archive.write_bytes(make_zip({"../evil.sfc": ROM, "../../../evil2.sfc": b"x" * 1000}))
    monkeypatch.chdir(work)
    dest = import_rom(archive, game=PRACTICE_GAME)
    assert dest.resolve() == practice_dest(user_dir).resolve() and dest.read_bytes() == ROM
    assert not [p for p in tmp_path.parent.rglob("evil*.sfc")], "a member name escaped onto the disk"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["rom.sfc"]


# ----------------------------------------------------------------------------- zip refusals


def test_zip_without_the_rom_lists_its_members(user_dir):
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    message = refusal(make_zip({"readme.txt": b"no rom here\n", "box art.png": png, "other.sfc": bytes(32 * 1024)}))
    assert "None of the 3 files from the data you passed is the Super Mario Kart (SNES, USA) ROM" in message
    assert "why: it is a PNG image, not a SNES ROM." in message
    for expected in (
        "'readme.txt'",
        "looks like a text file",
        "'box art.png'",
        "looks like a PNG image",
        "'other.sfc'",
    ):
        assert expected in message
    assert SMK_SHA1 in message and "Nothing was written." in message
    assert not (user_dir / REAL_GAME / "rom.sfc").exists()


def test_a_zip_of_thousands_of_files_gives_a_short_message(tmp_path, user_dir):
    archive = tmp_path / "downloads" / "notes.zip"
    archive.parent.mkdir()
    archive.write_bytes(make_zip({f"notes/{k:04d}.txt": b"not a rom\n" for k in range(3000)}))
    import_rom(SHIPPED_ROM, game=PRACTICE_GAME)  # a user folder that already holds a ROM, to be left alone
    before = hashes(archive.parent, user_dir)
    message = refusal(archive.read_bytes())
    assert "None of the 3000 files from the data you passed" in message
    assert message.count("\n    - ") == importer.MAX_LISTED, "only the first files are described"
    assert f"... and {3000 - importer.MAX_LISTED:,} more files, not shown" in message
    assert len(message.splitlines()) < 3 * importer.MAX_LISTED + 10
    assert "Nothing was written." in message and not (user_dir / REAL_GAME / "rom.sfc").exists()
    assert f"None of the 3000 files from {archive}" in refusal(archive), "the same refusal, given the zip's path"
    assert hashes(archive.parent, user_dir) == before, "the zip or the user folder changed"


def test_empty_zip_is_named(user_dir):
    assert "is an empty zip archive" in refusal(make_zip({}))


def spy_on_zip_open(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every zip member opened."""
    opened: list[str] = []
    original = zipfile.ZipFile.open

    def spy(self, member, *args, **kwargs):
        opened.append(getattr(member, "filename", member))
        return original(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


def test_oversized_member_is_refused_before_it_is_read(user_dir, monkeypatch):
    bomb = make_zip({"huge.sfc": bytes(20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024, "20 MiB of zeros compresses to almost nothing"
    opened = spy_on_zip_open(monkeypatch)
    message = refusal(bomb)
    assert "'huge.sfc'" in message and "20,971,520 bytes" in message and "over the 16 MiB limit" in message
    assert opened == [], "the oversized member was opened"


def test_oversized_member_does_not_hide_the_rom(user_dir, monkeypatch):
    archive = make_zip({"a_huge.sfc": bytes(20 * 1024 * 1024), "b_kart.sfc": ROM})
    opened = spy_on_zip_open(monkeypatch)
    assert import_rom(archive, game=PRACTICE_GAME).read_bytes() == ROM
    assert opened == ["b_kart.sfc"]


def test_member_that_lies_about_its_size_is_refused(user_dir):
    archive = bytearray(make_zip({"liar.sfc": bytes(20 * 1024 * 1024)}))
    central = archive.index(b"PK\x01\x02")
    archive[central + 24 : central + 28] = struct.pack("<I", 1024)  # declared uncompressed size
    message = refusal(bytes(archive))
    assert message.startswith("The one file in the data you passed is not")
    assert "'liar.sfc'" in message and "skipped, damaged" in message


def test_damaged_zip_is_explained(user_dir):
    message = refusal(b"PK\x03\x04" + bytes(100))
    assert "looks like a zip but cannot be opened" in message


# ----------------------------------------------------------------------------- wrong ROMs


def test_practice_rom_is_refused_as_super_mario_kart(user_dir):
    message = refusal(ROM)
    for expected in (
        "not the Super Mario Kart (SNES, USA) ROM that MarioKart-Snes needs",
        "262,144 bytes (256 KiB)",
        f"SHA-1 {ROM_SHA1}",
        "512-byte copier header absent",
        "internal title 'PRACTICE KART'",
        f"SHA-1 {SMK_SHA1}",
        "headerless .sfc, 512 KiB",
        "smaller than the expected ROM",
        "USA cartridge",
        "Nothing was written.",
    ):
        assert expected in message
    assert not (user_dir / REAL_GAME / "rom.sfc").exists()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (random.Random(1).randbytes(512 * 1024), "the size is right but the SHA-1 is not"),
        (random.Random(2).randbytes(512 + 512 * 1024), "the size is right but the SHA-1 is not"),
        (ROM[:100_000], "not a whole number of 32 KiB banks"),
        (ROM[: 128 * 1024], "smaller than the expected ROM"),
        (random.Random(3).randbytes(300), "not a whole number of 32 KiB banks"),
    ],
    ids=["random-512k", "random-headered", "truncated-odd", "truncated-128k", "tiny"],
)
def test_wrong_rom_is_refused_with_size_and_sha(user_dir, data, why):
    message = refusal(data)
    assert f"{len(data):,} bytes" in message
    assert hashlib.sha1(data).hexdigest() in message and SMK_SHA1 in message
    assert why in message
    if len(data) % 1024 == 512:
        assert "512-byte copier header present" in message
        assert hashlib.sha1(data[512:]).hexdigest() in message
    assert not (user_dir / REAL_GAME / "rom.sfc").exists()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(1000), "a PNG image"),
        (b"  <!DOCTYPE html><html><body>Download</body></html>", "an HTML page"),
        ("Super Mario Kart — notes\n".encode() * 50, "a text file"),
        (b"7z\xbc\xaf\x27\x1c" + bytes(100), "a 7-Zip archive"),
    ],
    ids=["png", "html", "text", "7z"],
)
def test_non_rom_file_says_what_it_is(tmp_path, user_dir, data, kind):
    source = tmp_path / "kart.sfc"
    source.write_bytes(data)
    message = refusal(source)
    assert f"looks like {kind}" in message and f"it is {kind}" in message and str(source) in message


def test_bad_import_never_touches_a_good_rom(user_dir):
    dest = import_rom(ROM, game=PRACTICE_GAME)
    before = (dest.read_bytes(), dest.stat().st_mtime_ns)
    for bad in (ROM[:-1], random.Random(4).randbytes(len(ROM)), make_zip({"x.sfc": b"nope"}), b""):
        with pytest.raises(RomError) as err:
            import_rom(bad, game=PRACTICE_GAME)
        if bad:
            assert f"your existing {dest} is unchanged" in str(err.value)
    assert (dest.read_bytes(), dest.stat().st_mtime_ns) == before
    assert not leftovers(user_dir)


def test_failed_verification_keeps_the_old_file(user_dir, monkeypatch):
    dest = practice_dest(user_dir)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"an older, different rom.sfc")
    monkeypatch.setattr(importer, "_file_sha1", lambda path: "0" * 40)  # as if the disk corrupted the write
    with pytest.raises(RomError, match="failed verification"):
        import_rom(ROM, game=PRACTICE_GAME)
    assert dest.read_bytes() == b"an older, different rom.sfc"
    assert not leftovers(user_dir)


def test_refuses_to_write_into_the_shipped_folder(monkeypatch):
    before = (SHIPPED_ROM.stat().st_mtime_ns, SHIPPED_ROM.read_bytes())
    monkeypatch.setenv("KART_INTEGRATIONS", str(shipped_integrations_dir()))
    with pytest.raises(RomError, match="package's own integrations folder"):
        import_rom(ROM, game=PRACTICE_GAME)
    assert (SHIPPED_ROM.stat().st_mtime_ns, SHIPPED_ROM.read_bytes()) == before


# ----------------------------------------------------------------------------- bad inputs


def test_missing_path(tmp_path):
    missing = tmp_path / "nowhere" / "kart.sfc"
    message = refusal(missing)
    assert message.startswith(f"No file at {missing}") and "Check the path" in message


def test_relative_missing_path_names_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert f"No file at kart.sfc (relative to {tmp_path})" in refusal("kart.sfc")


def test_directory_lists_rom_like_files(tmp_path):
    (tmp_path / "roms").mkdir()
    (tmp_path / "roms" / "Super Mario Kart.smc").write_bytes(b"x")
    message = refusal(tmp_path / "roms")
    assert "is a folder, not a ROM file" in message and "Super Mario Kart.smc" in message


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b"")], ids=["bytes", "bytearray", "memoryview"])
def test_empty_bytes(empty):
    assert "is empty (0 bytes)" in refusal(empty)


def test_empty_file(tmp_path):
    source = tmp_path / "kart.sfc"
    source.write_bytes(b"")
    assert refusal(source) == f"{source} is empty (0 bytes): the copy or upload did not finish. Pick the file again."


@pytest.mark.parametrize("empty", [(), {}, FakeFileUpload()], ids=["value", "ipywidgets7", "widget"])
def test_empty_upload(empty):
    assert refusal(empty).startswith("Nothing uploaded yet")


def test_unsupported_source_type():
    assert "cannot read a int" in refusal(42)


def test_oversized_input_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_INPUT_BYTES", 2 * 1024 * 1024)
    big = tmp_path / "big.sfc"
    big.write_bytes(bytes(3 * 1024 * 1024))
    for source in (big, big.read_bytes()):
        assert "is over 2 MiB; a SNES ROM is at most 6 MiB" in refusal(source)


# ----------------------------------------------------------------------------- status


def test_status_uses_practice_kart_without_a_real_rom():
    status = rom_status()
    assert status.game == PRACTICE_GAME == course_game()
    assert status.real_rom is None and status.practice_rom.read_bytes() == ROM
    assert str(status) == status.message == "Using Practice Kart (no Super Mario Kart ROM imported; see notebook 01)"


def pretend_practice_kart_is_the_real_game(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make MarioKart-Snes expect Practice Kart's SHA-1, since the real ROM is never available."""
    original = identify.expected_sha1s
    pretend = lambda game: (ROM_SHA1,) if game == REAL_GAME else original(game)  # noqa: E731
    for module in (identify, importer):  # each looks it up by name
        monkeypatch.setattr(module, "expected_sha1s", pretend)


def test_status_uses_the_real_game_when_its_rom_matches(user_dir, monkeypatch):
    pretend_practice_kart_is_the_real_game(monkeypatch)
    dest = import_rom(bytes(512) + ROM)  # default game: MarioKart-Snes
    assert dest.resolve() == (user_dir / REAL_GAME / "rom.sfc").resolve() and dest.read_bytes() == ROM
    status = rom_status()
    assert (status.game, status.real_rom) == (REAL_GAME, dest) and course_game() == REAL_GAME
    assert status.message == f"Using Super Mario Kart (your ROM at {dest})"


def test_status_ignores_a_real_rom_with_the_wrong_sha(user_dir):
    wrong = user_dir / REAL_GAME / "rom.sfc"
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(ROM)  # not Super Mario Kart
    status = rom_status()
    assert status.game == PRACTICE_GAME and status.real_rom is None
    assert "wrong SHA-1" in status.message and str(wrong) in status.message


def test_written_rom_is_readable_by_others(user_dir):
    mode = import_rom(ROM, game=PRACTICE_GAME).stat().st_mode & 0o777
    assert mode == 0o644, oct(mode)
    assert os.access(practice_dest(user_dir), os.R_OK)
