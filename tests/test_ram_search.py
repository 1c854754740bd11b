"""RAM search: each filter on synthetic snapshots, speed at full size, and real searches on two games.

The live searches use no knowledge of the addresses: they only drive and filter. The answer
from data.json is read at the very end, to check what the search found.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.display.ram_panel import RamSearchPanel
from kart_helpers.emulator.drive import drive
from kart_helpers.emulator.env import close_live_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.game.expert import Expert
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.search import RamSearch, record
from kart_helpers.ram.trace import watch


def synthetic(*snapshots: list[int], type: str = "|u1", blocks: dict | None = None) -> RamSearch:
    """A search over a tiny RAM (one 8-byte block by default) with the given snapshots."""
    mm = MemoryMap(blocks or {0: len(snapshots[0])})
    search = RamSearch(mm, type)
    for s in snapshots:
        search.snapshot(np.array(s, np.uint8))
    return search


# --- each filter, on synthetic snapshots ----------------------------------------------------------


BEFORE = [5, 5, 5, 5, 200, 0, 9, 7]
AFTER_ = [5, 6, 4, 7, 201, 255, 9, 8]


@pytest.mark.parametrize(
    ("op", "value", "kept"),
    [
        ("changed", None, [1, 2, 3, 4, 5, 7]),
        ("unchanged", None, [0, 6]),
        ("increased", None, [1, 3, 4, 5, 7]),
        ("decreased", None, [2]),
        ("increased_by", 1, [1, 4, 7]),
        ("increased_by", 2, [3]),
        ("increased_by", -1, [2]),
        ("equal", 9, [6]),
        ("not_equal", 5, [1, 2, 3, 4, 5, 6, 7]),
        ("greater", 8, [4, 5, 6]),
        ("less", 5, [2]),
    ],
)
def test_each_filter_on_bytes(op, value, kept):
    search = synthetic(BEFORE, AFTER_)
    assert search.filter(op, value) == len(kept)
    assert search.candidates.tolist() == kept
    assert search.log[-1] == f"  {op}{'' if value is None else f' {value}'} (|u1): {len(kept)} candidates left"


def test_signed_bytes_see_255_as_a_decrease():
    search = synthetic(BEFORE, AFTER_)
    search.filter("decreased", type="|i1")  # 0 -> 255 is 0 -> -1 when signed
    assert search.candidates.tolist() == [2, 5]
    assert search.type == "|i1", "the type sticks for later filters and tables"


def test_type_and_byte_order_decide_what_increased():
    # bytes 0-1 hold 0x0100 -> 0x00FF little-endian: 256 -> 255 (down), big-endian: 1 -> 65281 (up)
    before, after = [0x00, 0x01, 0, 0], [0xFF, 0x00, 0, 0]
    little = synthetic(before, after, type="<u2")
    little.filter("decreased")
    big = synthetic(before, after, type=">u2")
    big.filter("decreased")
    assert little.candidates.tolist() == [0, 1] and big.candidates.tolist() == [1]  # index 1: 1 -> 0 or 256 -> 0
    signed = synthetic([0x05, 0x00, 0, 0], [0xFB, 0xFF, 0, 0], type="<i2")
    signed.filter("increased_by", -10)  # 5 -> -5
    assert signed.candidates.tolist() == [0] and signed.values().tolist() == [-5]
    assert synthetic([0x05, 0x00, 0, 0], [0xFB, 0xFF, 0, 0], type="<u2").filter("decreased") == 0


def test_multibyte_candidates_never_straddle_two_blocks():
    search = synthetic([0] * 8, [0] * 8, type="<u2", blocks={0: 4, 100: 4})
    assert search.candidates.tolist() == [0, 1, 2, 4, 5, 6]
    assert search.addresses.tolist() == [0, 1, 2, 100, 101, 102]
    search = synthetic([0] * 8, [0] * 8, blocks={0: 4, 100: 4})
    search.filter("unchanged", type="<u4")  # widening drops candidates that no longer fit
    assert search.candidates.tolist() == [0, 4]


def test_compare_with_an_earlier_snapshot_by_ref():
    search = synthetic([1, 2, 3], [9, 9, 9], [1, 9, 3])
    search.filter("unchanged", ref=0)
    assert search.candidates.tolist() == [0, 2]


def test_bcd_filters_skip_bytes_that_are_not_bcd():
    search = synthetic([0x09, 0x0A, 0x19], [0x10, 0x0B, 0x20], type="|d1")
    search.filter("increased_by", 1)  # 09 -> 10 and 19 -> 20 in decimal; 0x0A is no BCD byte
    assert search.candidates.tolist() == [0, 2]


def test_undo_restart_keep_and_history():
    search = synthetic([1, 2, 3, 4], [1, 3, 3, 5], [1, 4, 3, 6])
    search.filter("increased")
    assert search.candidates.tolist() == [1, 3]
    assert search.history().tolist() == [[2, 4], [3, 5], [4, 6]]
    search.keep(np.array([False, True]), "by hand")
    assert search.candidates.tolist() == [3] and search.log[-1] == "  by hand: 1 candidates left"
    assert search.undo() == 2 and search.undo() == 4
    assert search.restart("<u2") == 3
    with pytest.raises(ValueError, match="nothing to undo"):
        RamSearch(MemoryMap({0: 4})).undo()
    with pytest.raises(ValueError, match="one entry per candidate"):
        search.keep(np.array([True]))


def test_filter_errors_say_what_to_do():
    search = synthetic([1, 2, 3])
    with pytest.raises(ValueError, match="compares two snapshots: drive and take another snapshot first"):
        search.filter("changed")
    search.snapshot(np.array([1, 2, 3], np.uint8))
    with pytest.raises(ValueError, match="unknown filter 'bigger'; choose one of changed, unchanged"):
        search.filter("bigger")
    with pytest.raises(ValueError, match=r"needs a value, e.g. filter\('equal', 128\)"):
        search.filter("equal")
    with pytest.raises(ValueError, match="takes no value"):
        search.filter("changed", 3)
    with pytest.raises(ValueError, match="a snapshot has 3 bytes"):
        search.snapshot(np.zeros(4, np.uint8))
    assert synthetic([7, 8, 9]).filter("equal", 8) == 1, "comparing with a value needs one snapshot only"


def test_table_and_plot_show_candidates():
    search = synthetic([1, 2, 3, 4], [1, 3, 3, 5])
    search.filter("increased")
    table = search.table()
    assert table.column("data.json address") == [1, 3]
    assert table.column("values") == ["2 3", "4 5"]
    assert "2 candidates" in table.title and "<table" in search._repr_html_()
    ax = search.plot(1)
    assert ax.lines[0].get_ydata().tolist() == [4, 5]
    with pytest.raises(IndexError, match="candidate #2 does not exist: there are 2"):
        search.plot(2)


def test_search_is_fast_on_full_snes_ram_with_hundreds_of_snapshots():
    mm = MemoryMap.snes()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, mm.size, dtype=np.uint8)
    counter = mm.index_of(0x7E1234)
    search = RamSearch(mm, "<u2")
    start = time.perf_counter()
    for t in range(300):
        ram = base.copy()
        noisy = rng.integers(0, mm.size, 2000)
        ram[noisy] = rng.integers(0, 256, 2000, dtype=np.uint8)  # 2,000 bytes change every frame
        ram[counter : counter + 2] = np.frombuffer(np.uint16(1000 + 3 * t).tobytes(), np.uint8)
        search.snapshot(ram)
        if t:
            search.filter("increased_by", 3)
    elapsed = time.perf_counter() - start
    assert search.candidates.tolist() == [counter]
    assert search.history().shape == (300, 1)
    assert elapsed < 10, f"300 snapshots + filters of 141,312 bytes took {elapsed:.1f} s"


# --- driving --------------------------------------------------------------------------------------


def test_drive_takes_buttons_scripts_and_functions(kart):
    seen = []
    info = drive(kart, [("B", 10, "accelerate"), ("", 5)], on_frame=seen.append)
    assert len(seen) == 15 and info is seen[-1] and seen[9]["speed"] > seen[0]["speed"]
    seen.clear()
    drive(kart, "Y", 7, seen.append)
    assert len(seen) == 7
    asked = []
    drive(kart, lambda i: asked.append(i["speed"]) or "B", 5)
    assert len(asked) == 5
    with pytest.raises(ValueError, match=r"needs a number of frames: drive\(env, 'B', frames=60\)"):
        drive(kart, "B")
    with pytest.raises(ValueError, match="unknown button"):
        drive(kart, "TURBO", 1)


def test_watch_and_record_read_what_stable_retro_reads(kart):
    info = read_json(PRACTICE_GAME, "data.json")
    names = ["laps", "speed", "x", "checkpoint"]
    expected = []
    drive(kart, "B", 100, lambda i: expected.append([i[n] for n in names]))
    kart.reset()
    trace = watch(kart, info, "B", 100)
    assert np.array_equal(np.stack([trace[n] for n in names], axis=1), expected)
    assert trace.frames.tolist() == list(range(1, 101))
    kart.reset()
    rec = record(kart, "B", 100, every=10)
    assert rec.ram.shape == (10, 141312) and rec.frames.tolist() == list(range(10, 101, 10))
    assert rec.view(info["info"]["speed"]["address"], "<i2").tolist() == trace["speed"][9::10].tolist()
    fig = trace.plot(["speed", "laps"], title="t")
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel().startswith("speed\n$7E:10EA <i2")


# --- real searches: no addresses known until the final check --------------------------------------


def test_search_finds_practice_kart_lap_counter_and_speed(kart):
    expert = Expert(0)
    laps = RamSearch.start(kart)
    laps.drive(kart, "", 20)
    laps.filter("unchanged")
    laps.drive(kart, expert.buttons, 100)  # across the start line
    laps.filter("increased_by", 1)
    for _ in range(3):  # most of a lap
        laps.drive(kart, expert.buttons, 200)
        laps.filter("unchanged")
    laps.drive(kart, expert.buttons, 200)  # across the line again
    laps.filter("increased_by", 1)

    kart.reset()
    speed = RamSearch.start(kart, type="<i2")
    speed.drive(kart, "", 10)
    speed.filter("unchanged")
    speed.filter("equal", 0)
    for n in (30, 30, 100):
        speed.drive(kart, "B", n)
        speed.filter("increased")
    speed.drive(kart, "B+LEFT", 10)  # turning at top speed changes direction, not speed
    speed.filter("unchanged")
    speed.drive(kart, "Y", 100)  # brake, then reverse
    speed.filter("less", 0)

    shipped = read_json(PRACTICE_GAME, "data.json")["info"]  # the answer, only now
    assert laps.addresses.tolist() == [shipped["laps"]["address"]]
    assert speed.addresses.tolist() == [shipped["speed"]["address"]]
    assert laps.history()[:, 0].tolist() == [127, 127, 128, 128, 128, 128, 129]


def test_unsigned_search_loses_the_reversing_speed(kart):
    search = RamSearch.start(kart, type="<u2")
    search.drive(kart, "B", 60)
    search.filter("increased")
    speed = read_json(PRACTICE_GAME, "data.json")["info"]["speed"]["address"]
    assert speed in search.addresses
    search.drive(kart, "Y", 120)  # 360 -> -240, which unsigned reads as 65296
    search.filter("decreased")
    assert speed not in search.addresses


def test_search_finds_airstriker_score_and_lives_on_genesis():
    close_live_env()  # one emulator per process
    env = retro.make("Airstriker-Genesis-v0", render_mode="rgb_array", use_restricted_actions=retro.Actions.ALL)
    try:
        env.reset()
        tap_fire = [("B", 3), ("", 3)]
        # What a player reads off the HUD: "Score: 20" by frame 180, "Score: 40" by frame 330.
        score = RamSearch.start(env, type=">u4")
        score.drive(env, tap_fire * 30)
        score.filter("equal", 20)
        score.drive(env, tap_fire * 25)
        score.filter("equal", 40)
        # "Lives: 3" until the ship is hit, a little after frame 400, then "Lives: 2".
        env.reset()
        lives = RamSearch.start(env, type=">u2")
        lives.filter("equal", 3)
        lives.drive(env, tap_fire * 60)
        lives.filter("unchanged")
        lives.drive(env, tap_fire * 20)
        lives.filter("increased_by", -1)
        path = Path(retro.data.get_file_path("Airstriker-Genesis-v0", "data.json"))
        info = json.loads(path.read_text())["info"]
        assert info["score"]["address"] in score.addresses.tolist() and len(score) <= 2  # score and high score
        assert lives.addresses.tolist() == [info["lives"]["address"]]
    finally:
        env.close()
        del env
        gc.collect()


# --- the widget -----------------------------------------------------------------------------------


def test_panel_builds_and_its_buttons_filter_candidates(kart):
    panel = RamSearchPanel(kart)
    assert set(panel.hold) == {"", "B", "B+LEFT", "B+RIGHT", "Y", "L", "UP", "DOWN"}
    assert "<u2" in panel.type.options and panel.screen.value[:4] == b"\x89PNG"
    start = len(panel.search)

    panel.filters["changed"].click()  # one snapshot only: the panel says so, nothing breaks
    assert "ValueError: filter 'changed' compares two snapshots" in panel.status.value
    panel.frames.value = 20
    panel.hold[""].click()
    panel.filters["unchanged"].click()
    panel.frames.value = 100
    panel.hold["B"].click()
    panel.value.value = 1
    panel.filters["increased_by"].click()
    assert 0 < len(panel.search) < start / 1000
    assert f"{len(panel.search)} candidates" in panel.status.value
    assert "<table" in panel.candidates.value
    assert len(panel.pick.options) == len(panel.search) and panel.plot.value[:4] == b"\x89PNG"

    laps = read_json(PRACTICE_GAME, "data.json")["info"]["laps"]["address"]
    assert laps in panel.search.addresses
    narrowed = len(panel.search)
    panel.undo_button.click()
    assert len(panel.search) > narrowed
    panel.type.value = "<i2"
    panel.restart_button.click()
    assert panel.search.type == "<i2" and len(panel.search) > 100_000

    close_live_env()  # e.g. a later cell made another env: clicking says what to do
    panel.hold["B"].click()
    assert "emulator was closed" in panel.status.value and "run the panel's cell again" in panel.status.value


def test_panel_offers_only_the_games_buttons():
    close_live_env()
    env = retro.make("Airstriker-Genesis-v0", render_mode="rgb_array", use_restricted_actions=retro.Actions.ALL)
    try:
        env.reset()
        panel = RamSearchPanel(env, buttons=["", "B", "Y", "B+UP", "L"])
        assert list(panel.hold) == ["", "B", "Y", "B+UP"], "Genesis pads have no L"
        assert panel.type.options[1:3] == (">u2", ">u4")
    finally:
        env.close()
        del env
        gc.collect()


def test_panel_works_through_the_jupyter_widget_protocol():
    """A browser talks to widgets over comm messages; send the ones a click sends, to a real kernel."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    iopub: list[dict] = []

    def run(code: str) -> str:
        msg_id = kc.execute(code)
        text = ""
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            iopub.append(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            text += msg["content"].get("text", "")
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return text

    def send(comm_id: str, data: dict) -> None:  # what the browser's widget manager sends
        kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

    try:
        run(
            "import stable_retro as retro\n"
            "from kart_helpers.emulator.env import make_env\n"
            "from kart_helpers.display.ram_panel import RamSearchPanel\n"
            "env = make_env(use_restricted_actions=retro.Actions.ALL)\n"
            "env.reset()\n"
            "panel = RamSearchPanel(env)\n"
            "display(panel)"
        )
        assert any("application/vnd.jupyter.widget-view+json" in m["content"].get("data", {}) for m in iopub)
        ids = run(
            "p = panel; print(p.frames.model_id, p.value.model_id, p.hold['B'].model_id, "
            "p.filters['increased_by'].model_id, p.candidates.model_id)"
        ).split()
        frames, value, hold_b, increased_by, table = ids
        send(frames, {"method": "update", "state": {"value": 100}, "buffer_paths": []})
        send(hold_b, {"method": "custom", "content": {"event": "click"}})
        send(value, {"method": "update", "state": {"value": 1}, "buffer_paths": []})
        send(increased_by, {"method": "custom", "content": {"event": "click"}})
        left = int(run("print(len(panel.search))"))  # the kernel handles messages in order
        assert 0 < left < 10
        pushed = [
            m["content"]["data"]["state"]["value"]
            for m in iopub
            if m["msg_type"] == "comm_msg"
            and m["content"]["comm_id"] == table
            and "value" in m["content"]["data"].get("state", {})
        ]
        assert pushed and pushed[-1].startswith("<table") and f"{left} candidates" in pushed[-1]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
