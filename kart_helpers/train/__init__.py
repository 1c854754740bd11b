"""PPO training for kart games with Tianshou 2: config, network, trainer, checkpoints and a CLI.

``python -m kart_helpers.train --help`` lists every setting. In Python::

    from kart_helpers.train import PPOConfig, train
    result = train(PPOConfig(total_steps=50_000, log_dir="runs/demo"))
"""

import os

# Idle OpenMP threads otherwise spin against the emulator workers (measured about +20%
# training throughput on 2 cores). Only effective before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from kart_helpers.train.checkpoints import CheckpointError, load_checkpoint
from kart_helpers.train.config import ConfigError, PPOConfig, cpu_profile, field_docs, gpu_profile
from kart_helpers.train.run_folder import RunFolderError
from kart_helpers.train.trainer import Trainer, TrainResult, load_policy, train

__all__ = [
    "CheckpointError",
    "ConfigError",
    "PPOConfig",
    "RunFolderError",
    "TrainResult",
    "Trainer",
    "cpu_profile",
    "field_docs",
    "gpu_profile",
    "load_checkpoint",
    "load_policy",
    "train",
]
