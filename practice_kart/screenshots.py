"""Render a contact sheet of Practice Kart: title, track select, countdown, and both tracks mid-race
(the top half is the Mode 7 driving view).

python -m practice_kart.screenshots   # writes practice_kart/screenshots.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import stable_retro as retro
from PIL import Image, ImageDraw

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.drive import run_script
from kart_helpers.emulator.env import make_env
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.game.expert import Expert

OUT = Path(__file__).resolve().parent / "screenshots.png"


def menu_frames() -> list[tuple[str, np.ndarray]]:
    env = make_env(PRACTICE_GAME, state=retro.State.NONE, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    title, _, _, select, _, countdown = run_script(
        env, [("", 20), ("START", 2), ("", 10), ("DOWN", 2), ("START", 2), ("", 30)], keep_frames=True
    )
    env.close()
    return [("title", title), ("track select", select), ("countdown", countdown)]


def race_frame(track: int, frames: int) -> np.ndarray:
    env = make_env(PRACTICE_GAME, state=f"Level{track + 1}", use_restricted_actions=retro.Actions.ALL)
    env.reset()
    info, expert = env.unwrapped.data.lookup_all(), Expert(track)
    for _ in range(frames):
        obs, _, _, _, info = env.step(action_for(expert.buttons(info), env.buttons))
    env.close()
    return obs


def main() -> None:
    shots = menu_frames()
    shots += [("Practice Ring, lap 2", race_frame(0, 1000)), ("Hairpin Hills, lap 1", race_frame(1, 700))]
    sheet = Image.new("RGB", (3 * 264, 2 * 244), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (label, frame) in enumerate(shots):
        x, y = (k % 3) * 264 + 4, (k // 3) * 244 + 4
        sheet.paste(Image.fromarray(frame), (x, y + 14))
        draw.text((x, y), label, fill="black")
    sheet.save(OUT)
    print(OUT)


if __name__ == "__main__":
    main()
