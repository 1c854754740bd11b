"""The trainer's instruments: a collector that times itself, and a logger that hands updates to the trainer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from tianshou.data import Collector
from tianshou.utils import TensorboardLogger
from torch.utils.tensorboard import SummaryWriter


class TimedCollector(Collector):
    """A Collector that times its collection and runs it with one torch thread."""

    single_thread = True
    """Collect with one torch thread (the benchmark turns this off to measure what it buys)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.collect_s = 0.0

    def collect(self, *args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        if self.single_thread:
            torch.set_num_threads(1)
        start = time.perf_counter()
        try:
            return super().collect(*args, **kwargs)
        finally:
            self.collect_s += time.perf_counter() - start
            torch.set_num_threads(threads)


class TrainLogger(TensorboardLogger):
    """TensorBoard logger that hands update statistics to the trainer and resumes from our counters."""

    def __init__(self, writer: SummaryWriter, on_update: Callable[[dict], None]) -> None:
        super().__init__(writer, training_interval=1, update_interval=1, save_interval=1)
        self._on_update = on_update
        self.resume_counters: tuple[int, int, int] | None = None

    def log_update_data(self, log_data: dict, step: int) -> None:
        self._on_update(log_data)
        super().log_update_data(log_data, step)

    def restore_data(self) -> tuple[int, int, int]:
        if self.resume_counters is None:
            return super().restore_data()
        epoch, env_step, update_step = self.resume_counters
        self.last_save_step = self.last_log_test_step = epoch
        self.last_log_update_step = update_step
        self.last_log_train_step = env_step
        return self.resume_counters
