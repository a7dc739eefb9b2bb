-- server/demo/sample.lua
-- The program `make run` snapshots: a small game server's state loop, with
-- the shapes real programs have: classes (metatables with __name), closures
-- sharing upvalues, an event bus, coroutines (suspended and dead), a weak
-- cache, binary strings, and a bounded history. Runs until killed, or for
-- AMBER_DEMO_TICKS ticks.

local Inventory = {}
Inventory.__index = Inventory
Inventory.__name = "Inventory"

function Inventory.new(owner)
  return setmetatable({ owner = owner, items = {}, weight = 0 }, Inventory)
end

function Inventory:add(item, count)
  local slot = self.items[item.id]
  if not slot then
    slot = { item = item, count = 0 }
    self.items[item.id] = slot
  end
  slot.count = slot.count + count
  self.weight = self.weight + item.weight * count
end

local Player = {}
Player.__index = Player
Player.__name = "Player"
Player.__tostring = function(p) return "Player<" .. p.name .. ">" end

local next_id = 0
local function new_id()            -- a closure over a shared counter
  next_id = next_id + 1
  return next_id
end

function Player.new(name, x, y)
  local p = setmetatable({ id = new_id(), name = name, hp = 100, pos = { x = x, y = y } }, Player)
  p.bag = Inventory.new(p)
  return p
end

function Player:move(dx, dy)
  self.pos.x, self.pos.y = self.pos.x + dx, self.pos.y + dy
end

-- An event bus: handlers are closures; two of them share one upvalue.
local function make_bus()
  local handlers, fired = {}, 0
  local bus = {}
  function bus.on(name, fn)
    handlers[name] = handlers[name] or {}
    table.insert(handlers[name], fn)
  end
  function bus.emit(name, ...)
    fired = fired + 1
    for _, fn in ipairs(handlers[name] or {}) do fn(...) end
  end
  function bus.count() return fired end
  return bus
end

local items = {
  sword = { id = "sword", weight = 3.5, damage = 12 },
  potion = { id = "potion", weight = 0.25, heal = 30 },
  gem = { id = "gem", weight = 0.1, value = 2 ^ 40, tag = "\0\1\2\255 raw bytes" },
}

-- Loot comes from a coroutine that stays suspended between ticks.
local function loot_source(seed)
  return coroutine.create(function()
    local kinds = { "sword", "potion", "gem", "potion" }
    local n = seed
    while true do
      n = (n * 1103515245 + 12345) % 2147483648
      coroutine.yield(kinds[n % #kinds + 1])
    end
  end)
end

local finished = coroutine.create(function() return "done" end)
coroutine.resume(finished)          -- a dead coroutine, kept for the snapshot

game = {
  tick = 0,
  players = {},
  world = { width = 64, height = 64, name = "Ashvale", seed = 1234, gravity = -9.81,
            nothing = 0.0 / 0.0, neg_zero = -0.0, huge = math.huge },
  bus = make_bus(),
  loot = loot_source(7),
  finished = finished,
  cache = setmetatable({}, { __mode = "k" }),
  history = {},
  config = { max_history = 100, print_every = 50 },
}

for i, name in ipairs({ "ada", "brick", "cyd", "dorn", "eve", "fitz", "gale", "hob" }) do
  game.players[i] = Player.new(name, i * 3, 64 - i * 5)
end

game.bus.on("loot", function(p, kind)
  p.bag:add(items[kind], 1)
  game.cache[p] = kind
end)
game.bus.on("hurt", function(p, dmg) p.hp = math.max(0, p.hp - dmg) end)

local function step()
  game.tick = game.tick + 1
  for i, p in ipairs(game.players) do
    p:move((game.tick + i) % 3 - 1, (game.tick * i) % 3 - 1)
    if (game.tick + i) % 7 == 0 then
      local _, kind = coroutine.resume(game.loot)
      game.bus.emit("loot", p, kind)
    end
    if (game.tick * i) % 11 == 0 then game.bus.emit("hurt", p, i) end
  end
  table.insert(game.history, { tick = game.tick, events = game.bus.count() })
  if #game.history > game.config.max_history then table.remove(game.history, 1) end
  if game.tick % game.config.print_every == 0 then
    print(string.format("tick %d: %d events, %s carries %.2f kg", game.tick,
                        game.bus.count(), tostring(game.players[1]),
                        game.players[1].bag.weight))
  end
end

local ticks = tonumber(os.getenv("AMBER_DEMO_TICKS") or "") or math.huge
local n = 0
while n < ticks do
  n = n + 1
  step()
  -- A game server waits for its next frame; the agent's hook answers the
  -- server between frames.
  if n % 10 == 0 then os.execute("sleep 0.05") end
end
