"""How Practice Kart drives and how fast it runs: wall pins, wall escapes, the driving view's
road axis on straights, and raw ``env.step`` frames/s, optionally against a baseline ROM.

    python benchmarks/game_feel.py                          # the shipped ROM
    python benchmarks/game_feel.py --baseline /tmp/old      # and an older build, in turns

``--baseline`` is a folder holding a ``PracticeKart-Snes/`` integration (ROM, states,
tracks.json), e.g. a copy of ``integrations/`` from an earlier commit. It is used as the user
integrations folder, which stable-retro searches first. Writes ``results/game_feel.json``
and ``game_feel.md`` (into ``--out``). Run nothing else meanwhile: frames/s is shared CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kart_helpers.bench.speed import measure_raw
from kart_helpers.emulator.env import make_env
from kart_helpers.emulator.integration import USER_DIR_VARIABLE, find_file
from kart_helpers.game.constants import PRACTICE_GAME
from practice_kart.drive_checks import escape_frames, random_walls, straight_view

ROOT = Path(__file__).resolve().parents[1]
TRACKS = {0: "Practice Ring", 1: "Hairpin Hills"}


def drive_figures() -> dict:
    """Wall and view figures of the ROM that stable-retro finds now, per track."""
    out = {}
    for track, name in TRACKS.items():
        walls = random_walls(track)
        escapes = escape_frames(track, walls.contacts)
        freed = [f for f in escapes if f is not None]
        view = straight_view(track)
        out[name] = {
            "wall_contact_fraction": round(walls.contact_fraction, 4),
            "longest_wall_contact_frames": walls.longest_contact,
            "escape_trials": len(escapes),
            "escaped_within_2s": len(freed),
            "escape_frames_max": max(freed, default=None),
            "straight_frames": len(view.angles),
            "road_axis_within_25deg": round(view.fraction_within(25.0), 4),
            "road_axis_median_deg": round(float(np.median(view.angles)), 1) if view.angles else None,
            "straight_frames_per_heading_quadrant": np.bincount(view.quadrants, minlength=4).tolist(),
        }
    return out


def raw_speed(rounds: int, variants: dict[str, str | None]) -> dict:
    """Raw env.step frames/s on Level1 for each variant (a user folder, or None), in turns."""
    fps: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, folder in variants.items():
            with user_folder(folder):
                env = make_env(PRACTICE_GAME, state="Level1")
                fps[name].append(measure_raw(env, frames=3000, repeats=1).frames_per_s)
                env.close()
    return {
        name: {"median": round(statistics.median(v), 1), "min": round(min(v), 1), "max": round(max(v), 1)}
        for name, v in fps.items()
    }


@contextmanager
def user_folder(folder: str | None) -> Iterator[None]:
    """Point the user integrations folder at ``folder`` for a while (None: leave it)."""
    before = os.environ.get(USER_DIR_VARIABLE)
    if folder is not None:
        os.environ[USER_DIR_VARIABLE] = folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(USER_DIR_VARIABLE, None)
        else:
            os.environ[USER_DIR_VARIABLE] = before


def table(results: dict) -> str:
    lines = ["# Practice Kart: walls, view and speed", ""]
    for label, figures in results["drive"].items():
        lines += [
            f"## {label}",
            "",
            "| track | wall contact | longest pin | escaped within 2 s | road axis within 25° on straights (median) |",
        ]
        lines += ["|---|---|---|---|---|"]
        for track, f in figures.items():
            lines.append(
                f"| {track} | {100 * f['wall_contact_fraction']:.1f}% of frames "
                f"| {f['longest_wall_contact_frames']} frames "
                f"| {f['escaped_within_2s']}/{f['escape_trials']} (worst {f['escape_frames_max']} frames) "
                f"| {100 * f['road_axis_within_25deg']:.0f}% of {f['straight_frames']} ({f['road_axis_median_deg']}°) |"
            )
        lines.append("")
    lines += ["## Raw env.step frames/s (Level1, in turns)", "", "| ROM | median | min | max |", "|---|---|---|---|"]
    for name, s in results["speed"].items():
        lines.append(f"| {name} | {s['median']} | {s['min']} | {s['max']} |")
    lines += ["", f"Load average before/after: {results['load_before']} / {results['load_after']}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a folder with an older PracticeKart-Snes/ to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="frames/s rounds per ROM, in turns")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    variants = {"this build": None}
    if args.baseline:
        variants["baseline"] = str(Path(args.baseline).resolve())
    drive = {}
    for name, folder in variants.items():
        with user_folder(folder):
            print(f"{name}: {find_file(PRACTICE_GAME, 'rom.sfc')}")
            drive[name] = drive_figures()
    results = {
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip(),
        "rom_sha1": (ROOT / "integrations" / PRACTICE_GAME / "rom.sha").read_text().strip(),
        "drive": drive,
        "speed": raw_speed(args.rounds, variants),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "game_feel.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "game_feel.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
