"""Frames on screen: a row of frames with captions, and a frame as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def show_frames(
    frames: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    cols: int = 4,
    scale: float = 2.5,
    suptitle: str | None = None,
):
    """Plot frames (each H x W x 3 uint8, e.g. 224 x 256 x 3) in a grid; returns the figure.

    ``scale`` is inches per 100 pixels of frame width, so SNES frames stay legible.
    """

    frames = list(frames)
    if not frames:
        raise ValueError("show_frames needs at least one frame")
    cols = min(cols, len(frames))
    rows = -(-len(frames) // cols)
    h, w = frames[0].shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * w / 100 * scale, rows * (h / 100 * scale + 0.35)))
    for k, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if k < len(frames):
            ax.imshow(frames[k], interpolation="nearest", cmap="gray" if frames[k].ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[k], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def screen_png(screen: np.ndarray, scale: int = 2) -> bytes:
    """A frame as PNG bytes, enlarged ``scale`` times with sharp pixels."""

    image = Image.fromarray(np.asarray(screen, dtype=np.uint8))
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
