"""Notebook 06's run-length estimate: its arithmetic, and its range against the learning runs' measured speeds."""

import json
from pathlib import Path

import pytest

from kart_helpers.bench.estimate import TRAIN_STEPS_PER_RAW_FRAME, TrainingEstimate

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def test_minutes_span_the_slow_and_fast_speeds():
    estimate = TrainingEstimate(raw_frames_per_s=800, steps_per_s=(80, 100), total_steps=48_000)
    assert estimate.minutes == pytest.approx((8.0, 10.0))
    assert "80-100 steps/s" in str(estimate) and "8-10 minutes" in str(estimate)


def test_every_learning_run_on_record_trained_inside_the_range():
    low, high = TRAIN_STEPS_PER_RAW_FRAME
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("learning_*.json"))]
    measured = [(r["steps_per_s"], r["raw_env_step_fps"]) for r in runs if "raw_env_step_fps" in r]
    assert measured, "no learning result records its raw env.step speed"
    for steps_per_s, raw in measured:
        assert low * raw <= steps_per_s <= high * raw, (steps_per_s, raw)
