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


def video_beside(video_path: str | Path, fig: Any, width: int = 384) -> Any:
    """An HTML block: the video on the left, a figure on the right (both embedded)."""

    path = Path(video_path)
    data = base64.b64encode(path.read_bytes()).decode()
    if path.suffix == ".gif":
        media = f'<img src="data:image/gif;base64,{data}" width="{width}">'
    else:
        source = f'<source src="data:video/mp4;base64,{data}" type="video/mp4">'
        media = f'<video controls autoplay loop muted width="{width}">{source}</video>'

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)  # shown here, not a second time below the cell
    image = base64.b64encode(buf.getvalue()).decode()
    return HTML(
        f'<div style="display:flex;gap:12px;align-items:flex-start">{media}'
        f'<img src="data:image/png;base64,{image}" style="max-width:560px"></div>'
    )
