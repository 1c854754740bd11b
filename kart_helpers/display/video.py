"""Write frames as a video and show it inline beside a figure."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML


def write_video(screens: Sequence[np.ndarray], path: str | Path, fps: float = 15.0) -> Path:
    """Write screens as an mp4 (or a GIF when ``path`` ends in .gif) with imageio."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        imageio.mimsave(path, [s[::2, ::2] for s in screens], duration=1 / fps, loop=0)
    else:
        imageio.mimsave(path, list(screens), fps=fps, macro_block_size=8)
    return path


def side_by_side(left: Sequence[np.ndarray], right: Sequence[np.ndarray], gap: int = 8) -> list[np.ndarray]:
    """Two videos' frames next to each other, frame k beside frame k; the shorter one holds its last frame.

    Args:
        left, right: frames of one shape each, e.g. ``(224, 256, 3)`` uint8.
        gap: pixels of white between them.

    Returns:
        ``max(len(left), len(right))`` frames of ``(H, 2W + gap, 3)``.
    """
    if not len(left) or not len(right):
        raise ValueError("side_by_side needs frames on both sides: record the rollouts with video=True")
    white = np.full((left[0].shape[0], gap, 3), 255, dtype=np.uint8)
    n = max(len(left), len(right))
    return [np.hstack([left[min(k, len(left) - 1)], white, right[min(k, len(right) - 1)]]) for k in range(n)]


def _media(path: Path, width: int) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    if path.suffix == ".gif":
        return f'<img src="data:image/gif;base64,{data}" width="{width}">'
    source = f'<source src="data:video/mp4;base64,{data}" type="video/mp4">'
    return f'<video controls autoplay loop muted width="{width}">{source}</video>'


def show_video(video_path: str | Path, width: int = 640, caption: str = "") -> Any:
    """An HTML block with the video embedded (it plays in a saved notebook too) and a caption under it."""
    text = f'<div style="font-size:0.9em">{caption}</div>' if caption else ""
    return HTML(f"<div>{_media(Path(video_path), width)}{text}</div>")


def video_beside(video_path: str | Path, fig: Any, width: int = 384) -> Any:
    """An HTML block: the video on the left, a figure on the right (both embedded)."""

    media = _media(Path(video_path), width)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)  # shown here, not a second time below the cell
    image = base64.b64encode(buf.getvalue()).decode()
    return HTML(
        f'<div style="display:flex;gap:12px;align-items:flex-start">{media}'
        f'<img src="data:image/png;base64,{image}" style="max-width:560px"></div>'
    )
