"""Lap tables and checkpoint comparisons as text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kart_helpers.evaluate.rollout import Evaluation, Rollout
from kart_helpers.game.constants import FPS
from kart_helpers.game.laps import LapClock


def lap_table(rollout_or_clock: Rollout | LapClock, par: LapClock | None = None) -> str:
    """Markdown: each lap's time, and the expert's and the difference when ``par`` is given."""
    clock = rollout_or_clock.laps if isinstance(rollout_or_clock, Rollout) else rollout_or_clock
    lines = ["| lap | agent (s) | expert (s) | lost (s) |", "|---|---:|---:|---:|"]
    expert = par.lap_frames if par is not None else []
    for k, frames in enumerate(clock.lap_frames):
        ref = expert[k] if k < len(expert) else None
        ref_s = f"{ref / FPS:.2f}" if ref else "–"
        lost = f"{(frames - ref) / FPS:+.2f}" if ref else "–"
        lines.append(f"| {k + 1} | {frames / FPS:.2f} | {ref_s} | {lost} |")
    if not clock.lap_frames:
        lines.append("| – | no lap completed | | |")
    race = clock.race_frames
    ref_race = par.race_frames if par is not None else None
    if race is not None:
        lost = f"{(race - ref_race) / FPS:+.2f}" if ref_race else "–"
        ref_s = f"{ref_race / FPS:.2f}" if ref_race else "–"
        lines.append(f"| **race** | **{race / FPS:.2f}** | {ref_s} | {lost} |")
    return "\n".join(lines)


def compare(evaluations: Sequence[Evaluation], labels: Sequence[str] | None = None) -> str:
    """Markdown table of several checkpoints' best rollouts, ranked by how far each got.

    The rank is by progress: checkpoint zones driven through (30 a lap), then the race time, then
    the return, so a checkpoint that drove further ranks above one that earned more reward.
    """
    labels = labels or [Path(e.path).name for e in evaluations]
    lines = [
        "| rank | checkpoint | agent steps | zones | laps | race (s) | ÷ par | best lap (s) | return | end |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    ranked = sorted(zip(labels, evaluations, strict=True), key=lambda pair: pair[1].best.rank_key)
    for rank, (label, ev) in enumerate(ranked, start=1):
        s = ev.best.summary(ev.par)
        race = f"{s['race_s']:.2f}" if s["race_s"] is not None else "–"
        ratio = f"{s['vs_par']:.2f}" if s["vs_par"] is not None else "–"
        best_lap = f"{min(s['lap_frames']) / FPS:.2f}" if s["lap_frames"] else "–"
        lines.append(
            f"| {rank} | {label} | {ev.env_step:,} | {s['zones']} | {s['laps']} | {race} | {ratio} | {best_lap} "
            f"| {s['return']:.0f} | {s['end'] or 'still racing at the frame limit'} |"
        )
    return "\n".join(lines)
