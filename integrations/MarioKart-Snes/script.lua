-- Super Mario Kart (SNES): reward and episode end for stable-retro.
--
-- How stable-retro runs this file (scenario.json names the two entry points):
--   * Lua 5.1 with only the base, table, string and math libraries: no `bit`
--     library, no io/os. Bits are tested with arithmetic (see has_bit).
--   * The file is loaded into a fresh Lua state on every env.reset(), so all
--     state below starts over with each episode.
--   * After every emulator frame, and once inside env.reset(), stable-retro
--     calls kart_done() and then kart_reward(). The global `data` reads the
--     variables of data.json by name; `scenario.frame` counts those per-frame
--     updates since the reset (0 during the reset).
--   * Both entry points call advance(), which handles each frame exactly once,
--     so the result does not depend on which of the two is called first.
--
-- Each reward component is one small function below. Their values for the
-- latest frame are kept in the global table `components`, and their sums over
-- the episode in `totals`, so that tools can show what the agent was paid for.

-- Tunable constants -----------------------------------------------------------

local CHECKPOINT_REWARD = 300   -- per checkpoint never reached before
local DEFAULT_CHECKPOINTS = 30  -- used when num_checkpoints reads 0

local WALL_PENALTY = -10        -- per frame of slow wall contact
local WALL_SLOW_SPEED = 600     -- wall contact below this speed is penalised

local OFFROAD_PENALTY = -15     -- once per OFFROAD_PERIOD off-road frames
local OFFROAD_PERIOD = 30

local TIME_COST = -1            -- once per TIME_PERIOD frames
local TIME_COST_FAST = -0.5     -- the same, when faster than FAST_SPEED
local FAST_SPEED = 700
local TIME_PERIOD = 30

local BACKWARD_PENALTY = -2     -- once per BACKWARD_PERIOD wrong-way frames
local BACKWARD_PERIOD = 6

local FINISH_LAPS = 133         -- the laps counter after five laps (127 on the grid)
local WALL_HIT_LIMIT = 7        -- this many wall hits ...
local WALL_HIT_WINDOW = 600     -- ... within this many frames (10 s) end the episode

local SURFACE_OFFROAD = 0x54
local SURFACE_WALL = 0x80
local BACKWARD_BIT = 0x10

-- Components in the order they are summed (a fixed order keeps sums exact
-- and repeatable; `pairs` has no defined order).
local COMPONENT_NAMES = { "checkpoint", "wall", "offroad", "time", "backward" }

-- Episode state (fresh after every env.reset()) ---------------------------------

local started = false        -- false until the first call, made inside reset
local last_tick = nil        -- scenario.frame of the last frame handled
local frames = 0             -- frames handled since the reset call
local best_progress = 0      -- furthest progress seen this episode
local offroad_frames = 0     -- off-road frames so far this episode
local backward_frames = 0    -- wrong-way frames so far this episode
local last_collision = 0     -- collision value of the previous frame
local wall_hits = {}         -- frame numbers of the wall hits still in the window
local finished = false       -- the episode is over

components = {}              -- value of each component on the latest frame
totals = {}                  -- sum of each component over the episode
done_reason = nil            -- "finished" or "wall_hits" once the episode ends

for _, name in ipairs(COMPONENT_NAMES) do
  components[name] = 0
  totals[name] = 0
end

-- Helpers -------------------------------------------------------------------------

-- True when `bit` (a power of two) is set in `value`. Lua 5.1 has no bit
-- operators, so shift right by dividing and look at the lowest bit.
local function has_bit(value, bit)
  return math.floor(value / bit) % 2 == 1
end

-- Read every variable once per frame, so all components see the same values.
local function read_ram()
  return {
    laps = data.laps,
    checkpoint = data.checkpoint,
    num_checkpoints = data.num_checkpoints,
    speed = data.speed,
    surface = data.surface,
    collision = data.collision,
    backward = data.backward,
  }
end

-- Checkpoints passed since the start of the count: on the grid the kart sits
-- in the last checkpoint zone with laps = 127, so crossing the line forwards
-- adds exactly 1, and crossing it backwards takes 1 away.
local function progress_of(ram)
  local per_lap = ram.num_checkpoints
  if per_lap == 0 then
    per_lap = DEFAULT_CHECKPOINTS
  end
  return ram.laps * per_lap + ram.checkpoint
end

-- Reward components ---------------------------------------------------------------

-- +300 per checkpoint, paid only the first time progress goes past its best
-- value of the episode. Paying for every increase instead would pay again
-- after the kart drives back over the line (losing a lap) and forward again,
-- and an agent would learn to farm that.
--
-- A jump of more than a lap in one frame is not driving: it is the race being
-- set up (laps going from 0 to 127 when an episode starts in a menu). It moves
-- the baseline and pays nothing.
local function checkpoint_reward(ram)
  local progress = progress_of(ram)
  if progress <= best_progress then
    return 0
  end
  local gained = progress - best_progress
  best_progress = progress
  if gained > DEFAULT_CHECKPOINTS then
    return 0
  end
  return CHECKPOINT_REWARD * gained
end

-- -10 per frame pressed against a wall while slow: that is being stuck.
-- A fast glancing touch is left alone; the game already slows the kart.
local function wall_penalty(ram)
  if ram.surface == SURFACE_WALL and ram.speed < WALL_SLOW_SPEED then
    return WALL_PENALTY
  end
  return 0
end

-- -15 for every 30 frames spent off-road (counted over the whole episode),
-- because off-road costs speed the agent cannot see in the checkpoint reward
-- until much later.
local function offroad_penalty(ram)
  if ram.surface ~= SURFACE_OFFROAD then
    return 0
  end
  offroad_frames = offroad_frames + 1
  if offroad_frames % OFFROAD_PERIOD == 0 then
    return OFFROAD_PENALTY
  end
  return 0
end

-- A small cost every 30 frames so that finishing sooner is worth more; it is
-- halved above speed 700 so that keeping the speed up is cheaper.
local function time_cost(ram)
  if frames % TIME_PERIOD ~= 0 then
    return 0
  end
  if ram.speed > FAST_SPEED then
    return TIME_COST_FAST
  end
  return TIME_COST
end

-- -2 for every 6 frames of driving the wrong way. The game sets bit 0x10 of
-- `backward` for that; other bits of the byte mean other things, so the bit
-- is tested rather than the whole byte compared with 0x10.
local function backward_penalty(ram)
  if not has_bit(ram.backward, BACKWARD_BIT) then
    return 0
  end
  backward_frames = backward_frames + 1
  if backward_frames % BACKWARD_PERIOD == 0 then
    return BACKWARD_PENALTY
  end
  return 0
end

-- Episode end ---------------------------------------------------------------------

-- A wall hit is the frame the collision timer starts (0 -> nonzero). Keep the
-- hits of the last WALL_HIT_WINDOW frames only.
local function track_wall_hits(ram)
  if ram.collision ~= 0 and last_collision == 0 then
    table.insert(wall_hits, frames)
  end
  last_collision = ram.collision

  local recent = {}
  for _, hit in ipairs(wall_hits) do
    if frames - hit < WALL_HIT_WINDOW then
      table.insert(recent, hit)
    end
  end
  wall_hits = recent
end

-- Five laps done, or the kart keeps crashing (7 wall hits within 10 s).
local function check_finished(ram)
  if finished then
    return
  end
  if ram.laps >= FINISH_LAPS then
    finished = true
    done_reason = "finished"
  elseif #wall_hits >= WALL_HIT_LIMIT then
    finished = true
    done_reason = "wall_hits"
  end
end

-- The one place where state changes ---------------------------------------------

-- Handle the current frame, once: the first call (inside env.reset()) only
-- records the starting point, so it pays nothing.
local function advance()
  local tick = scenario.frame
  if started and tick == last_tick then
    return
  end
  last_tick = tick
  local ram = read_ram()

  if not started then
    started = true
    best_progress = progress_of(ram)
    last_collision = ram.collision
    check_finished(ram)
    return
  end

  frames = frames + 1
  components.checkpoint = checkpoint_reward(ram)
  components.wall = wall_penalty(ram)
  components.offroad = offroad_penalty(ram)
  components.time = time_cost(ram)
  components.backward = backward_penalty(ram)
  for _, name in ipairs(COMPONENT_NAMES) do
    totals[name] = totals[name] + components[name]
  end

  track_wall_hits(ram)
  check_finished(ram)
end

-- Entry points named in scenario.json ---------------------------------------------

-- Reward of the current frame: the sum of the components.
function kart_reward()
  advance()
  local total = 0
  for _, name in ipairs(COMPONENT_NAMES) do
    total = total + components[name]
  end
  return total
end

-- Whether the episode is over.
function kart_done()
  advance()
  return finished
end
