"""The PPO configuration: one dataclass holds every setting of a training run.

:class:`PPOConfig` holds the env pipeline's settings (:class:`~kart_helpers.pipeline.config.PipelineConfig`),
where training episodes start (:class:`StartsConfig`), and PPO's own settings. Every field has a
docstring, and every field, nested ones too, is a command-line flag of ``python -m kart_helpers.train``
(``lr`` becomes ``--lr``, ``frame_skip`` ``--frame-skip``, ``lr_decay`` ``--lr-decay`` / ``--no-lr-decay``).
:func:`cpu_profile` and :func:`gpu_profile` give sensible starting points for each kind of machine.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import dataclasses
import inspect
import itertools
import math
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.pipeline.vector import BACKENDS

KART_VIEW = (64, 192)
"""The 128 screen columns centred on the kart (Practice Kart keeps it in column 128). Before the
resize to 84 x 84, 128 columns shrink 1.5x sideways instead of 3x, so the kart's heading and the
road's edges stay visible (measured on Practice Ring: see benchmarks/results/learning.md)."""


class ConfigError(ValueError):
    """A setting of a :class:`PPOConfig` is out of range; the message names each bad setting."""


_DEFER_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar("defer_checks", default=False)


@contextlib.contextmanager
def deferred_checks() -> Iterator[None]:
    """Build PPOConfigs without :meth:`PPOConfig.validate` inside this block: the command line
    parses first and then reports every bad setting on one line of its own."""
    token = _DEFER_CHECKS.set(True)
    try:
        yield
    finally:
        _DEFER_CHECKS.reset(token)


@dataclass(frozen=True)
class StartsConfig:
    """Where training episodes start; evaluation always starts on the grid. See :mod:`kart_helpers.train.starts`."""

    spread_starts: int = 16
    """Snapshots taken along the first lap that training episodes may start from (0: always the
    grid). Without them the agent practises the first bend only after it has mastered the straight."""
    spread_frames: int = 1100
    """The snapshots are taken at random frames 0 to this of one drive (1100: a lap of either
    Practice Kart track, with the start)."""
    grid_start_prob: float = 0.5
    """With ``spread_starts``, the share of training episodes that still start on the grid."""
    retry_starts: int = 0
    """Keep up to this many snapshots (per env) from a little before where episodes stalled, and
    start half of the off-grid episodes there (0: off). Needs ``stall_frames``."""


@dataclass
class PPOConfig:
    """Everything that decides a PPO run on a kart game. Steps are agent steps (``frame_skip`` frames each)."""

    pipeline: PipelineConfig = field(default_factory=lambda: PipelineConfig(crop_cols=KART_VIEW))
    """What the agent sees and does: game, start state, actions, crop, frame skip and stack, time limit."""
    starts: StartsConfig = field(default_factory=StartsConfig)
    """Where training episodes start."""
    stall_frames: int = 600
    """End (truncate) an episode after this many frames without a new checkpoint (0: never). Without
    it, an agent stuck against a wall collects the same picture until the time limit."""
    reward_scale: float = 0.01
    """Rewards are multiplied by this before PPO sees them: a checkpoint (+300) becomes 3, which keeps
    the value targets near 1 and the value loss from swamping the policy loss."""

    lr: float = 2.5e-4
    """Adam learning rate at the start of the run."""
    lr_decay: bool = True
    """Decay the learning rate linearly to zero over ``total_steps``."""
    gamma: float = 0.99
    """Discount factor of future rewards."""
    gae_lambda: float = 0.95
    """λ of generalized advantage estimation (bias against variance of the advantages)."""
    clip: float = 0.1
    """PPO's ratio clip ε: each update keeps new/old action probabilities within [1 - ε, 1 + ε]."""
    value_clip: bool = False
    """Also clip the value function's change per update by ``clip``. Off by default: the clip is in
    return units, and with returns in the tens (a stuck episode is about -60 after ``reward_scale``)
    a change of at most 0.1 per update all but freezes the critic (measured: the value loss fell
    from 25 to 13 in 30k steps with it on)."""
    vf_coef: float = 0.25
    """Weight of the value loss in the total loss."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus (more exploration when larger)."""
    max_grad_norm: float = 0.5
    """Gradients are rescaled to at most this L2 norm."""
    return_scaling: bool = True
    """Divide the value targets by the running standard deviation of the returns (Tianshou's
    ``return_scaling``), so the value loss stays near 1 whatever the reward's scale. Without it,
    on Practice Kart the value loss's gradient on the shared trunk was about 2000x the policy
    loss's, and ``max_grad_norm`` then scaled the policy's share of each update down to almost nothing."""
    advantage_normalization: bool = True
    """Normalize advantages per minibatch to mean 0, std 1."""

    n_envs: int = 2
    """Emulators stepping side by side, one worker process each."""
    rollout: int = 256
    """Agent steps collected per env between two updates (one update sees ``rollout * n_envs`` steps)."""
    epochs: int = 4
    """Passes over each rollout per update (PPO's "epochs"; Tianshou's ``update_step_num_repetitions``)."""
    minibatch: int = 256
    """Transitions per gradient step."""
    total_steps: int = 300_000
    """Agent steps of the whole run, summed over envs (the learning benchmark's budget)."""
    epoch_steps: int = 10_240
    """Agent steps per trainer epoch; a checkpoint is written after each (rounded up to whole rollouts)."""
    test_episodes: int = 0
    """Episodes of a deterministic test after each epoch (0: none; the best policy is then chosen by
    the mean return of the epoch's training episodes)."""

    seed: int = 0
    """Seeds torch and the envs (env ``i`` gets ``seed + i``)."""
    device: str = "auto"
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``."""
    backend: str = "shmem"
    """Vector env backend: ``shmem``, ``subprocess``, ``dummy`` (1 env) or ``ray``."""
    torch_threads: int = 0
    """Torch threads for the update (0: all cores). Collection always uses 1, so idle OpenMP
    threads do not spin against the env workers."""
    share_trunk_forward: bool = True
    """Run the shared CNN trunk once per minibatch for both heads (the actor and critic heads
    otherwise each run it); same gradients, about a third less update time."""
    bf16: bool = False
    """Run the CNN trunk in bfloat16 (``torch.autocast``) in the update; weights, heads, losses and
    collection stay float32. On CPUs with AVX512-BF16 or AMX it cuts the update time by about 40 %
    (0.97 -> 0.59 s per update of 512 steps on a 2-core EPYC); slower on CPUs without them (see
    :func:`bf16_fast`). Off by default: its learning effect is not yet measured over seeds."""
    log_dir: str = "runs/ppo"
    """Folder of this run: TensorBoard logs, ``checkpoints/`` and ``history.json``. Training into a
    folder that holds another run is refused unless you resume it or ask to move it aside."""
    keep_epochs: int = 3
    """Keep only the newest this many ``checkpoints/epoch_*.pt`` (0: keep every epoch; each is
    about 20 MB). ``last.pt`` and ``best.pt`` are always kept."""

    def __post_init__(self) -> None:
        if not _DEFER_CHECKS.get():
            self.validate()

    def validate(self) -> None:
        """Check every setting; raise :class:`ConfigError` naming each bad one on one line.

        Runs on construction (and so on ``replace`` and ``from_dict``), before any emulator starts.
        """
        problems = _problems(self)
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def game(self) -> str:
        """The integration (``pipeline.game``)."""
        return self.pipeline.game

    @property
    def state(self) -> str:
        """The start state (``pipeline.state``)."""
        return self.pipeline.state

    @property
    def steps_per_update(self) -> int:
        """Agent steps collected for one update (all envs together)."""
        return self.rollout * self.n_envs

    @property
    def steps_per_epoch(self) -> int:
        """``epoch_steps`` rounded up to whole updates."""
        return math.ceil(self.epoch_steps / self.steps_per_update) * self.steps_per_update

    @property
    def max_epochs(self) -> int:
        """Trainer epochs needed for ``total_steps``."""
        return max(1, math.ceil(self.total_steps / self.steps_per_epoch))

    @property
    def updates_per_epoch(self) -> int:
        return self.steps_per_epoch // self.steps_per_update

    def resolved_device(self) -> str:
        """``device`` with ``"auto"`` resolved."""
        if self.device != "auto":
            return self.device

        return "cuda" if torch.cuda.is_available() else "cpu"

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python values, nested as the configs are (safe for
        ``torch.load(weights_only=True)`` and JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """The inverse of :meth:`to_dict`. Also reads the flat layout of runs saved before the
        configs were nested. Unknown keys raise a ValueError that names them."""
        data = dict(data)
        pipeline, starts = dict(data.pop("pipeline", {})), dict(data.pop("starts", {}))
        for key in [k for k in data if k in _LEGACY_PIPELINE]:
            pipeline[key] = data.pop(key)
        for key in [k for k in data if k in _names(StartsConfig)]:
            starts[key] = data.pop(key)
        if "view_width" in pipeline:  # the old way to say crop_cols
            width = int(pipeline.pop("view_width"))
            pipeline["crop_cols"] = None if width >= 256 else (128 - width // 2, 128 + width // 2)
        unknown = sorted(
            (set(data) - _names(cls)) | (set(pipeline) - _names(PipelineConfig)) | (set(starts) - _names(StartsConfig))
        )
        if unknown:
            raise ValueError(f"unknown PPOConfig field(s): {', '.join(unknown)}")
        pipeline = {k: tuple(v) if isinstance(v, list) else v for k, v in pipeline.items()}  # JSON has no tuples
        return cls(**data, pipeline=PipelineConfig(**pipeline), starts=StartsConfig(**starts))

    def replace(self, **changes: Any) -> PPOConfig:
        """A copy with ``changes`` applied; a change may name a field of ``pipeline`` or ``starts``
        directly (``replace(state="Level2")``), as the command line does."""
        own: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {"pipeline": {}, "starts": {}}
        for key, value in changes.items():
            if key in _names(PPOConfig):
                own[key] = value
            elif key in _names(PipelineConfig):
                nested["pipeline"][key] = value
            elif key in _names(StartsConfig):
                nested["starts"][key] = value
            else:
                raise TypeError(f"PPOConfig has no setting {key!r} (nor its pipeline or starts)")
        for part, values in nested.items():
            if values:
                own[part] = dataclasses.replace(own.get(part, getattr(self, part)), **values)
        return dataclasses.replace(self, **own)


DEVICES = ("auto", "cpu", "cuda")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _problems(c: PPOConfig) -> list[str]:
    """One short sentence per bad setting of ``c`` (its pipeline and starts included)."""
    out: list[str] = []
    values = flat_settings(c)

    def need(ok: bool, name: str, rule: str) -> None:
        if not ok:
            out.append(f"{name} must be {rule}, got {values[name]!r}")

    for name in ("n_envs", "rollout", "epochs", "minibatch", "total_steps", "epoch_steps"):
        value = getattr(c, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, "a whole number >= 1")
    for name in ("stall_frames", "test_episodes", "torch_threads", "keep_epochs", "seed"):
        value = getattr(c, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value >= 0, name, "a whole number >= 0")
    need(_number(c.lr) and c.lr > 0, "lr", "a number > 0")
    need(_number(c.gamma) and 0 < c.gamma <= 1, "gamma", "in (0, 1]")
    need(_number(c.gae_lambda) and 0 <= c.gae_lambda <= 1, "gae_lambda", "in [0, 1]")
    need(_number(c.clip) and c.clip > 0, "clip", "a number > 0")
    for name in ("vf_coef", "ent_coef"):
        need(_number(getattr(c, name)) and getattr(c, name) >= 0, name, "a number >= 0")
    need(_number(c.max_grad_norm) and c.max_grad_norm > 0, "max_grad_norm", "a number > 0")
    need(_number(c.reward_scale) and c.reward_scale > 0, "reward_scale", "a number > 0")
    need(c.seed < 2**32 if isinstance(c.seed, int) else True, "seed", "below 2**32 (numpy's limit)")
    device = str(c.device)
    need(
        device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit()),
        "device",
        "auto, cpu, cuda or cuda:N",
    )
    need(c.backend in BACKENDS, "backend", "one of " + ", ".join(BACKENDS))
    if c.backend == "dummy" and c.n_envs != 1:
        out.append("backend='dummy' runs one env in this process: use n_envs=1 or backend='shmem'")
    need(isinstance(c.log_dir, str) and c.log_dir.strip() != "", "log_dir", "a folder name")
    s, p = c.starts, c.pipeline
    need(isinstance(s.spread_starts, int) and s.spread_starts >= 0, "spread_starts", "a whole number >= 0")
    need(isinstance(s.spread_frames, int) and s.spread_frames >= 1, "spread_frames", "a whole number >= 1")
    need(_number(s.grid_start_prob) and 0 <= s.grid_start_prob <= 1, "grid_start_prob", "in [0, 1]")
    need(isinstance(s.retry_starts, int) and s.retry_starts >= 0, "retry_starts", "a whole number >= 0")
    if s.retry_starts and not c.stall_frames:
        out.append("retry_starts needs stall_frames > 0 (a retry start is taken where an episode stalled)")
    need(isinstance(p.max_noops, int) and p.max_noops >= 0, "max_noops", "a whole number >= 0")
    frames = p.max_episode_frames
    need(frames is None or (isinstance(frames, int) and frames >= 1), "max_episode_frames", "a whole number >= 1")
    clip = p.reward_clip
    need(clip is None or (_number(clip) and clip > 0), "reward_clip", "a number > 0")
    need(p.resize is None or all(isinstance(v, int) and v >= 1 for v in p.resize), "resize", "(height, width) >= 1")
    return out


_LEGACY_PIPELINE = {"game", "state", "actions", "view_width", "frame_skip", "frame_stack", "max_episode_frames"}


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def flat_settings(config: Any) -> dict[str, Any]:
    """Every leaf setting of a (nested) config dataclass by its own name, as the command line names them."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        out.update(flat_settings(value) if dataclasses.is_dataclass(value) else {f.name: value})
    return out


def field_docs(cls: type = PPOConfig) -> dict[str, str]:
    """Each leaf setting's docstring by its own name, nested configs included (for tables)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    types = {f.name: f.default_factory for f in fields(cls) if f.default_factory is not dataclasses.MISSING}
    for node, after in itertools.pairwise(body):
        is_field = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        if is_field and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            name = node.target.id
            nested = types.get(name)
            if nested is not None and dataclasses.is_dataclass(value := nested()):
                docs.update(field_docs(type(value)))
            else:
                docs[name] = " ".join(str(after.value.value).split())
    return docs


def bf16_fast(device: str = "cpu") -> bool:
    """Whether ``device`` has fast bfloat16 matrix units (CPU: AVX512-BF16 or AMX; CUDA: Ampere or newer)."""

    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_profile(**changes: Any) -> PPOConfig:
    """Settings for a small CPU machine (2 cores, as in CI and Colab's free tier): 2 envs in
    shared memory, rollout 256, 4 epochs of minibatch 256."""
    base = PPOConfig(n_envs=2, rollout=256, epochs=4, minibatch=256, device="cpu", backend="shmem")
    return base.replace(**changes)


def gpu_profile(**changes: Any) -> PPOConfig:
    """Settings for a machine with a GPU and many cores: 8 envs, rollout 128 each (1024 per
    update), minibatch 256, the update on the GPU."""
    base = PPOConfig(n_envs=8, rollout=128, epochs=4, minibatch=256, device="auto", backend="shmem", epoch_steps=20_480)
    return base.replace(**changes)
