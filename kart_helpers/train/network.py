"""The actor-critic network: a Nature CNN trunk shared by a policy head and a value head.

Observations arrive as uint8 frames (``4 x 84 x 84``) and are scaled to [0, 1] *inside* the
network, so the replay buffer and the pipes between processes carry bytes, not floats.
Weights start orthogonal: gain sqrt(2) in the trunk, 0.01 on the policy head (all actions
start nearly equally likely) and 1.0 on the value head.

Tianshou's ``DiscreteActor`` and ``DiscreteCritic`` each call their ``preprocess_net``. Given
the same :class:`NatureTrunk`, they share its weights; with ``share_forward`` the trunk also
remembers its last output, so when the critic asks for the very same observation array in
the same gradient step, it gets the features the actor already computed (one trunk pass per
minibatch instead of two, with the same gradients).

With ``bf16`` the trunk's convolutions and hidden layer run in bfloat16 under
``torch.autocast`` for batches of ``BF16_MIN_BATCH`` or more (the update's); the weights, the
heads, the losses and the optimizer stay float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tianshou.utils.net.common import ModuleWithVectorOutput
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic
from torch import nn

POLICY_GAIN = 0.01
VALUE_GAIN = 1.0
TRUNK_GAIN = math.sqrt(2)
BF16_MIN_BATCH = 32
"""With ``bf16``, smaller batches (collection's) still run in float32."""


def orthogonal_init(module: nn.Module, gain: float) -> None:
    """Orthogonal weights with ``gain`` and zero biases for every conv and linear layer in ``module``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class NatureTrunk(ModuleWithVectorOutput):
    """Mnih et al. (2015)'s CNN: 3 conv layers and a 512-unit linear layer, on uint8 frames.

    Input ``(B, C, H, W)`` uint8 (or float in 0..255); output ``(B, 512)`` features. The call
    signature ``forward(obs, state=None, info=None) -> (features, state)`` is what Tianshou's
    actor and critic expect of a ``preprocess_net``.
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        features: int = 512,
        device: str | torch.device = "cpu",
        share_forward: bool = True,
        bf16: bool = False,
    ) -> None:
        super().__init__(features)
        channels, height, width = obs_shape
        self.device = torch.device(device)
        self.share_forward = share_forward
        self.bf16 = bf16
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, channels, height, width)).shape[1]
        self.fc = nn.Sequential(nn.Linear(flat, features), nn.ReLU())
        orthogonal_init(self, TRUNK_GAIN)
        self._cache: tuple[Any, ...] | None = None

    def _weights_version(self) -> int:
        # Bumped by every in-place change of the weights (optimizer steps, load_state_dict).
        return sum(p._version for p in (self.convs[0].weight, self.fc[0].weight))

    def forward(self, obs: Any, state: Any = None, info: Any = None) -> tuple[torch.Tensor, Any]:
        key = (id(obs), torch.is_grad_enabled(), self._weights_version(), self.training)
        if self.share_forward and self._cache is not None and self._cache[0] == key:
            features = self._cache[2]
            self._cache = None  # one reuse only: the two heads of one minibatch
            return features, state
        x = torch.as_tensor(obs, device=self.device)
        x = x.float() / 255.0  # uint8 frames in, [0, 1] inside
        # Autocast casts every weight to bfloat16 on each call: at collection's batch of one frame
        # stack per env that costs more than it saves (1.02 against 0.85 ms per call, 2 envs).
        bf16 = self.bf16 and x.shape[0] >= BF16_MIN_BATCH
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            features = self.fc(self.convs(x))
        features = features.float()  # the heads (logits, values) stay float32
        if self.share_forward:
            self._cache = (key, obs, features)  # holds obs so its id cannot be reused meanwhile
        return features, state


def _last_linear(head: nn.Module) -> nn.Linear:
    layers = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return layers[-1]


def build_actor_critic(
    obs_shape: Sequence[int],
    n_actions: int,
    device: str | torch.device = "cpu",
    share_forward: bool = True,
    bf16: bool = False,
) -> tuple[DiscreteActor, DiscreteCritic]:
    """A Tianshou ``DiscreteActor`` (logits, ``softmax_output=False``) and ``DiscreteCritic`` on one trunk."""
    trunk = NatureTrunk(obs_shape, device=device, share_forward=share_forward, bf16=bf16)
    actor = DiscreteActor(preprocess_net=trunk, action_shape=n_actions, softmax_output=False)
    critic = DiscreteCritic(preprocess_net=trunk)
    orthogonal_init(_last_linear(actor.last), POLICY_GAIN)
    orthogonal_init(_last_linear(critic.last), VALUE_GAIN)
    return actor.to(device), critic.to(device)


def parameter_count(module: nn.Module) -> int:
    """Distinct trainable parameters (a shared trunk counts once)."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


def describe(actor: DiscreteActor, critic: DiscreteCritic) -> str:
    """A few lines on the network's layers and sizes, for notebooks."""
    trunk = actor.preprocess
    lines = [str(trunk.convs), str(trunk.fc), f"policy head: {actor.last}", f"value head: {critic.last}"]
    shared = parameter_count(nn.ModuleList([actor, critic]))
    lines.append(f"parameters: {shared:,} (trunk shared by both heads: {actor.preprocess is critic.preprocess})")
    return "\n".join(lines)
