"""Offline tests of the Super Mario Kart integration (no ROM, no emulator).

The reward and done Lua script is driven with synthetic RAM traces through two
stand-ins for stable-retro's script sandbox:

* ``lupa``: ``kart_helpers.scenario.sandbox.LuaSandbox``, a fresh Lua 5.1 runtime per
  episode, cut down to the libraries stable-retro opens, with ``data`` and
  ``scenario`` tables set per frame.
* ``stable_retro``: stable-retro's own ``GameData`` with the integration's
  scenario.json. With the RAM variables removed, ``set_value`` makes custom
  variables that the real sandbox's ``data`` reads instead of memory, so the
  script runs exactly as in an env, just without an emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kart_helpers.scenario.files import load_scenario
from kart_helpers.scenario.lua_runtime import NOT_IN_SANDBOX
from kart_helpers.scenario.sandbox import LuaSandbox

try:
    from lupa import lua51 as lupa_lua
except ImportError:  # pragma: no cover - lupa built without Lua 5.1
    import lupa as lupa_lua

INTEGRATION = Path(__file__).resolve().parents[1] / "integrations" / "MarioKart-Snes"
GAME = INTEGRATION.name
WRAM = 0x7E0000  # 8257536: WRAM bank $7E in stable-retro's SNES address space

#: The integration's variables: name -> (address, type).
EXPECTED_VARIABLES: dict[str, tuple[int, str]] = {
    "laps": (WRAM + 0x10C1, "|u1"),
    "checkpoint": (WRAM + 0x10C0, "|u1"),
    "checkpoint_alt": (WRAM + 0x10DC, "|u1"),
    "num_checkpoints": (WRAM + 0x0148, "|u1"),
    "speed": (WRAM + 0x10EA, "<i2"),
    "surface": (WRAM + 0x10AE, "|u1"),
    "collision": (WRAM + 0x1052, "|u1"),
    "backward": (267, "|u1"),
    "current_frame": (WRAM + 0x0038, "<u2"),
    "x": (WRAM + 0x0088, "<u2"),
    "y": (WRAM + 0x008C, "<u2"),
    "heading": (WRAM + 0x0095, "|u1"),
}

#: stable-retro's type grammar (stable_retro.testing.tools.verify_data), anchored:
#: one-byte types take "|", wider ones an endianness ("<", ">", "=" or a mixed
#: pair); the kind is i (signed), u (unsigned), d (BCD) or n (low-nibble BCD).
TYPE_GRAMMAR = re.compile(r"\|[dinu]1|(>[<=]?|<[>=]?|=[><]?)[dinu][2-8]")

#: RAM on the grid: laps 127 in the last checkpoint zone, standing still on road.
GRID: dict[str, int] = {
    "laps": 127,
    "checkpoint": 29,
    "checkpoint_alt": 29,
    "num_checkpoints": 30,
    "speed": 0,
    "surface": 0x40,
    "collision": 0,
    "backward": 0,
    "current_frame": 0,
    "x": 3712,
    "y": 2288,
    "heading": 0,
}


def lua_code() -> str:
    """script.lua without its comments."""
    source = (INTEGRATION / "script.lua").read_text()
    return re.sub(r"--[^\n]*", "", source)


def load_json(name: str) -> Any:
    """Parse one JSON file of the integration."""
    return json.loads((INTEGRATION / name).read_text())


def script_function(kind: str) -> str:
    """Name of the Lua function scenario.json gives for "reward" or "done"."""
    scope, _, name = load_json("scenario.json")[kind]["script"].partition(":")
    assert scope == "lua"
    return name


class Episode:
    """One episode: the reset call happens on construction, then one call per frame."""

    def __init__(self, first_ram: dict[str, int] | None = None) -> None:
        self.ram = dict(GRID)
        self.ram.update(first_ram or {})
        self.reset_result = self._update()

    def _update(self) -> tuple[float, bool]:
        """Run done and reward for the current RAM, as one stable-retro update does."""
        raise NotImplementedError

    def step(self, **changes: int) -> tuple[float, bool]:
        """Change some RAM values (they persist), run one frame, return (reward, done)."""
        self.ram.update(changes)
        return self._update()

    def rewards(self, frames: int, **changes: int) -> list[float]:
        """Run several frames with the same RAM and return their rewards."""
        return [self.step(**(changes if i == 0 else {}))[0] for i in range(frames)]

    @property
    def frame(self) -> int:
        """Frames since the reset call (the reset call is frame 0)."""
        raise NotImplementedError


class LupaEpisode(Episode):
    """The script in a fresh lupa Lua 5.1 sandbox, like after env.reset()."""

    def __init__(
        self,
        first_ram: dict[str, int] | None = None,
        order: tuple[str, ...] = ("done", "reward"),
    ) -> None:
        self.sandbox = LuaSandbox(load_scenario(INTEGRATION), order=order)
        super().__init__(first_ram)

    @property
    def globals(self) -> Any:
        return self.sandbox.lua.globals()

    def call(self, kind: str) -> Any:
        """Call the script's reward or done function for the current frame again."""
        return self.globals[script_function(kind)]()

    def _update(self) -> tuple[float, bool]:
        if self.sandbox.lua is None:  # the first update is the reset call
            return self.sandbox.reset(self.ram)
        return self.sandbox.step(self.ram)

    @property
    def frame(self) -> int:
        return self.sandbox.frame

    def table(self, name: str) -> dict[str, float]:
        """A global Lua table of the script, as a dict."""
        return self.sandbox.table(name)


class RetroEpisode(Episode):
    """The script in stable-retro's own sandbox, via GameData and custom variables."""

    def __init__(self, first_ram: dict[str, int] | None = None) -> None:
        sr_data = pytest.importorskip("stable_retro.data")
        self.game = sr_data.GameData()
        assert self.game.load(str(INTEGRATION / "data.json"), str(INTEGRATION / "scenario.json"))
        for name in list(self.game.list_variables()):
            self.game.remove_variable(name)
        self.game.reset()
        self._frame = -1
        super().__init__(first_ram)

    def _update(self) -> tuple[float, bool]:
        for name, value in self.ram.items():
            self.game.set_value(name, value)
        self.game.update_ram()
        self._frame += 1
        return self.game.current_reward(), self.game.is_done()

    @property
    def frame(self) -> int:
        return self._frame


EpisodeFactory = Callable[..., Episode]


@pytest.fixture(params=["lupa", "stable_retro"])
def new_episode(request: pytest.FixtureRequest) -> Iterator[EpisodeFactory]:
    """Make episodes on either sandbox."""
    yield LupaEpisode if request.param == "lupa" else RetroEpisode


def run_to_frame(episode: Episode, frame: int, **changes: int) -> list[float]:
    """Step until the episode's frame counter reaches `frame`; return the rewards."""
    return episode.rewards(frame - episode.frame, **changes)


# Reward -------------------------------------------------------------------------


def test_first_call_returns_zero(new_episode: EpisodeFactory) -> None:
    """The reset call pays nothing, whatever the RAM shows."""
    bad_start = {"surface": 0x80, "speed": 0, "collision": 9, "backward": 0x10, "laps": 133}
    episode = new_episode(bad_start)
    reward, _ = episode.reset_result
    assert reward == 0


def test_new_checkpoint_pays_exactly_300(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    assert episode.step() == (0, False)
    assert episode.step(laps=128, checkpoint=0) == (300, False)  # the start line
    assert episode.step() == (0, False)
    assert episode.step(checkpoint=1) == (300, False)


def test_two_checkpoints_in_one_frame_pay_600(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    assert episode.step(laps=128, checkpoint=1)[0] == 600


def test_line_crossed_backward_then_forward_pays_nothing_extra(
    new_episode: EpisodeFactory,
) -> None:
    episode = new_episode()
    assert episode.step(laps=128, checkpoint=0)[0] == 300
    assert episode.step(checkpoint=1)[0] == 300
    assert episode.step(checkpoint=0)[0] == 0  # back into zone 0
    assert episode.step(laps=127, checkpoint=29)[0] == 0  # back over the line: lap lost
    for _ in range(3):  # back and forth over the line
        assert episode.step(laps=128, checkpoint=0)[0] == 0
        assert episode.step(laps=127, checkpoint=29)[0] == 0
    assert episode.step(laps=128, checkpoint=0)[0] == 0
    assert episode.step(checkpoint=1)[0] == 0  # reached before
    assert episode.step(checkpoint=2)[0] == 300  # new


def test_race_setup_jump_moves_the_baseline_without_pay(new_episode: EpisodeFactory) -> None:
    """An episode that starts in a menu (laps 0) pays nothing when the race sets laps to 127."""
    episode = new_episode({"laps": 0, "checkpoint": 0})
    assert episode.step(laps=127, checkpoint=29)[0] == 0
    assert episode.step(laps=128, checkpoint=0)[0] == 300


def test_zero_checkpoint_count_falls_back_to_30(new_episode: EpisodeFactory) -> None:
    episode = new_episode({"num_checkpoints": 0})
    assert episode.step(laps=128, checkpoint=0)[0] == 300


@pytest.mark.parametrize(
    ("speed", "expected"),
    [(0, -10), (599, -10), (600, 0), (900, 0), (-40, -10)],
)
def test_wall_penalty_only_below_speed_600(new_episode: EpisodeFactory, speed: int, expected: float) -> None:
    episode = new_episode()
    assert episode.step(surface=0x80, speed=speed)[0] == expected
    assert episode.step()[0] == expected  # every frame
    assert episode.step(surface=0x40)[0] == 0


def test_offroad_penalty_at_30th_offroad_frame(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    episode.rewards(5)  # on road, frames 1-5
    offroad = episode.rewards(30, surface=0x54)  # frames 6-35
    expected = [0.0] * 30
    expected[24] = -1  # frame 30: the time cost
    expected[29] = -15  # frame 35: the 30th off-road frame
    assert offroad == expected
    assert episode.rewards(5, surface=0x40) == [0] * 5


def test_offroad_frames_count_over_the_episode(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    assert episode.rewards(20, surface=0x54) == [0] * 20
    assert episode.rewards(3, surface=0x40) == [0] * 3
    assert episode.rewards(10, surface=0x54)[-1] == -15  # off-road frame 30, overall frame 33


def test_time_cost(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    slow = episode.rewards(30)
    assert slow[:29] == [0] * 29
    assert slow[29] == -1
    assert run_to_frame(episode, 60, speed=701)[-1] == -0.5
    assert run_to_frame(episode, 90, speed=700)[-1] == -1  # strictly faster than 700


@pytest.mark.parametrize(
    ("backward", "penalised"),
    [
        (0x10, True),
        (0x11, True),
        (0x30, True),
        (0xFF, True),
        (0x20, False),
        (0x0F, False),
        (0, False),
    ],
)
def test_backward_tests_bit_0x10(new_episode: EpisodeFactory, backward: int, penalised: bool) -> None:
    episode = new_episode()
    rewards = episode.rewards(12, backward=backward)
    expected = -2 if penalised else 0
    assert rewards == [0] * 5 + [expected] + [0] * 5 + [expected]


# Done ---------------------------------------------------------------------------


def test_done_at_laps_133_not_132(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    assert episode.step(laps=132, checkpoint=0)[1] is False
    for _ in range(50):
        assert episode.step()[1] is False
    assert episode.step(laps=133)[1] is True


def hit_walls(episode: Episode, hits: int, spacing: int) -> list[bool]:
    """Bump into a wall `hits` times, `spacing` frames apart; return done after each hit."""
    done_after_hit = []
    for _ in range(hits):
        done_after_hit.append(episode.step(collision=12)[1])  # the timer starts: a hit
        timer_frames = min(8, spacing - 2)  # it runs a few frames, then is 0 before the next hit
        for i in range(spacing - 1):
            episode.step(collision=12 - i if i < timer_frames else 0)
    return done_after_hit


@pytest.mark.parametrize("spacing", [20, 50, 99])
def test_done_after_7_wall_hits_within_600_frames(new_episode: EpisodeFactory, spacing: int) -> None:
    episode = new_episode()
    assert hit_walls(episode, 7, spacing) == [False] * 6 + [True]


@pytest.mark.parametrize("spacing", [100, 150])
def test_not_done_when_7_wall_hits_span_600_frames_or_more(new_episode: EpisodeFactory, spacing: int) -> None:
    episode = new_episode()
    assert hit_walls(episode, 7, spacing) == [False] * 7
    assert hit_walls(episode, 3, spacing) == [False] * 3


def test_staying_in_collision_is_one_hit(new_episode: EpisodeFactory) -> None:
    episode = new_episode()
    for _ in range(400):
        assert episode.step(collision=5)[1] is False


def test_collision_at_reset_is_not_a_hit(new_episode: EpisodeFactory) -> None:
    episode = new_episode({"collision": 5})
    episode.step(collision=0)
    assert hit_walls(episode, 6, 10) == [False] * 6
    assert hit_walls(episode, 1, 10) == [True]


# Calling conventions (lupa only: these need access to the Lua state) ------------


def trace() -> list[dict[str, int]]:
    """A mixed RAM trace touching every component and a wall-hit end."""
    frames: list[dict[str, int]] = []
    frames += [{"laps": 128, "checkpoint": 0, "speed": 800}] + [{}] * 40
    frames += [{"surface": 0x54, "speed": 300}] + [{}] * 40
    frames += [{"surface": 0x80, "speed": 100, "backward": 0x11}] + [{}] * 20
    frames += [{"laps": 127, "checkpoint": 29, "surface": 0x40, "backward": 0}]
    frames += [{"laps": 128, "checkpoint": 0}]
    for _ in range(7):
        frames += [{"collision": 8}, {"collision": 0}] + [{}] * 10
    return frames


def test_result_does_not_depend_on_call_order() -> None:
    results = {}
    for order in [("done", "reward"), ("reward", "done")]:
        episode = LupaEpisode(order=order)
        results[order] = [episode.reset_result] + [episode.step(**changes) for changes in trace()]
    done_first, reward_first = results.values()
    assert done_first == reward_first
    assert done_first[-1][1] is True
    assert sum(reward for reward, _ in done_first) != 0


def test_extra_calls_in_the_same_frame_count_nothing() -> None:
    episode = LupaEpisode()
    assert episode.step(laps=128, checkpoint=0, surface=0x80) == (290, False)
    assert episode.call("reward") == 290  # same frame: same reward, not paid again
    assert episode.call("done") is False
    assert episode.table("totals")["checkpoint"] == 300
    assert episode.table("totals")["wall"] == -10


def test_done_returns_a_boolean() -> None:
    """stable-retro turns a Lua number into a bool (0 is false there, true in Lua)."""
    episode = LupaEpisode()
    assert episode.reset_result[1] is False
    assert episode.step(laps=133)[1] is True
    assert episode.globals.done_reason == "finished"


def test_components_are_exposed() -> None:
    episode = LupaEpisode()
    zero = {"checkpoint": 0, "wall": 0, "offroad": 0, "time": 0, "backward": 0}
    assert episode.table("components") == zero
    run_to_frame(episode, 29, surface=0x54, backward=0x10)
    reward, _ = episode.step(laps=128, checkpoint=0, surface=0x54, speed=100)
    components = episode.table("components")
    assert components == {"checkpoint": 300, "wall": 0, "offroad": -15, "time": -1, "backward": -2}
    assert reward == sum(components.values())
    totals = episode.table("totals")
    assert totals == {"checkpoint": 300, "wall": 0, "offroad": -15, "time": -1, "backward": -10}


def test_script_uses_no_library_outside_the_sandbox() -> None:
    source = lua_code()
    for name in NOT_IN_SANDBOX:
        assert not re.search(rf"\b{name}\s*[.:(]", source), name


# Integration files ----------------------------------------------------------------


def test_data_json_variables() -> None:
    info = load_json("data.json")["info"]
    assert {name: (v["address"], v["type"]) for name, v in info.items()} == EXPECTED_VARIABLES
    assert info["speed"]["type"] == "<i2"  # signed; "<s2" would read as unsigned


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_data_json_types_match_stable_retro_grammar(name: str) -> None:
    assert TYPE_GRAMMAR.fullmatch(load_json("data.json")["info"][name]["type"])


def test_type_grammar_rejects_the_original_speed_type() -> None:
    assert not TYPE_GRAMMAR.fullmatch("<s2")
    assert not TYPE_GRAMMAR.fullmatch("<u1")


def test_stable_retro_parses_data_json() -> None:
    sr_data = pytest.importorskip("stable_retro.data")
    game = sr_data.GameData()
    assert game.load(str(INTEGRATION / "data.json"), str(INTEGRATION / "scenario.json"))
    parsed = {name: (v["address"], v["type"]) for name, v in game.list_variables().items()}
    assert parsed == EXPECTED_VARIABLES


def test_stable_retro_verifiers_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """stable-retro's own data.json and scenario.json checks find nothing."""
    sr_data = pytest.importorskip("stable_retro.data")
    tools = pytest.importorskip("stable_retro.testing.tools")
    # Created lazily by stable-retro; monkeypatch puts back whatever was there.
    custom_paths = [str(INTEGRATION.parent)]
    monkeypatch.setattr(sr_data.Integrations, "CUSTOM_PATHS", custom_paths, raising=False)
    assert tools.verify_data(GAME, sr_data.Integrations.CUSTOM_ONLY) == ([], [])
    assert tools.verify_scenario(GAME, sr_data.Integrations.CUSTOM_ONLY) == ([], [])


def test_scenario_references_functions_in_script() -> None:
    scenario = load_json("scenario.json")
    assert scenario["scripts"] == ["script.lua"]
    assert "actions" not in scenario  # it silently drops buttons in FILTERED mode
    assert set(scenario) == {"reward", "done", "scripts"}
    assert scenario["reward"] == {"script": f"lua:{script_function('reward')}"}
    assert scenario["done"] == {"script": f"lua:{script_function('done')}"}
    episode = LupaEpisode()
    for kind in ("reward", "done"):
        assert lupa_lua.lua_type(episode.globals[script_function(kind)]) == "function"


def test_script_reads_only_variables_in_data_json() -> None:
    source = lua_code()
    read = set(re.findall(r"\bdata\.([A-Za-z_]\w*)", source))
    assert read
    assert read <= set(EXPECTED_VARIABLES)


def test_rom_sha_and_metadata() -> None:
    sha = (INTEGRATION / "rom.sha").read_text()
    assert re.fullmatch(r"[0-9a-f]{40}\n?", sha)
    assert sha.strip() == "47e103d8398cf5b7cbb42b95df3a3c270691163b"
    assert load_json("metadata.json") == {"default_state": "Level1"}


def test_no_rom_or_state_in_the_folder() -> None:
    names = {path.name for path in INTEGRATION.iterdir()}
    expected = {"data.json", "scenario.json", "script.lua", "metadata.json", "rom.sha", "README.md"}
    assert names == expected
