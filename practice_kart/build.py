"""Build Practice Kart's ROM from source, byte for byte.

    python -m practice_kart.build            # writes integrations/PracticeKart-Snes/rom.sfc
    python -m practice_kart.build --out DIR  # writes DIR/rom.sfc (the rebuild test uses this)

Steps: generate the assets (pure Python), assemble with ca65, link with ld65, then fix
the header checksum. Needs ``ca65``/``ld65`` from the ``cc65`` package (Debian/Ubuntu:
``apt-get install cc65``; macOS: ``brew install cc65``).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from practice_kart.gen_assets import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
INTEGRATION = REPO / "integrations" / "PracticeKart-Snes"
HEADER = 0x7FC0  # LoROM header offset in the file
ROM_SIZE = 256 * 1024


class ToolMissing(RuntimeError):
    """ca65/ld65 are not installed."""


def find_tools() -> tuple[str, str]:
    """Paths of ca65 and ld65, or a ToolMissing error that says how to install them."""
    ca65, ld65 = shutil.which("ca65"), shutil.which("ld65")
    if not (ca65 and ld65):
        raise ToolMissing(
            "ca65/ld65 not found: install the cc65 package (apt-get install cc65, or brew install cc65) "
            "to rebuild Practice Kart. The committed rom.sfc works without it."
        )
    return ca65, ld65


def fix_checksum(rom: bytearray) -> None:
    """Write the SNES header checksum and its complement (sum of all bytes, mod 2^16)."""
    rom[HEADER + 0x1C : HEADER + 0x20] = b"\xff\xff\x00\x00"
    checksum = sum(rom) & 0xFFFF
    rom[HEADER + 0x1C : HEADER + 0x20] = (checksum ^ 0xFFFF).to_bytes(2, "little") + checksum.to_bytes(2, "little")


def build(out_dir: Path = INTEGRATION) -> Path:
    """Build ``rom.sfc`` (and ``tracks.json``) into ``out_dir``; return the ROM's path."""
    ca65, ld65 = find_tools()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="practice_kart_") as tmp:
        work = Path(tmp)
        generate(work)
        obj, rom_path = work / "main.o", work / "rom.sfc"
        subprocess.run(
            [
                ca65,
                "--cpu",
                "65816",
                "-I",
                str(work),
                "--bin-include-dir",
                str(work),
                "-I",
                str(HERE / "src"),
                "-o",
                str(obj),
                str(HERE / "src" / "main.s"),
            ],
            check=True,
        )
        subprocess.run([ld65, "-C", str(HERE / "src" / "lorom.cfg"), "-o", str(rom_path), str(obj)], check=True)
        rom = bytearray(rom_path.read_bytes())
        assert len(rom) == ROM_SIZE, f"linked ROM is {len(rom)} bytes, expected {ROM_SIZE}"
        fix_checksum(rom)
        target = out_dir / "rom.sfc"
        target.write_bytes(rom)
        shutil.copyfile(work / "tracks.json", out_dir / "tracks.json")
    (out_dir / "rom.sha").write_text(hashlib.sha1(rom).hexdigest() + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=INTEGRATION, help="folder for rom.sfc, rom.sha, tracks.json")
    parser.add_argument("--no-states", action="store_true", help="skip remaking the start states")
    args = parser.parse_args()
    rom = build(args.out)
    print(f"{rom}  sha1 {hashlib.sha1(rom.read_bytes()).hexdigest()}")
    if args.out == INTEGRATION and not args.no_states:
        # A save state holds the ROM's code addresses, so a changed ROM needs new states.
        from kart_helpers.emulator.start_scripts import make_practice_states

        for path in make_practice_states().values():
            print(path)


if __name__ == "__main__":
    main()
