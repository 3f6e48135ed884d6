-- Log streaming: real files, the real tailer and real inotify events on the
-- loop. The WebSocket is a recorder with the contract's send/on_drain
-- (docs/web.md); the browser test drives the real one.
local async = require "sbx.async"
local uv = require "luv"
local hub = require "sbx.dashboard.log_hub"
local stream = require "sbx.dashboard.log_stream"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)

local function recorder()
  local ws = { messages = {}, refuse = 0, gone = false }
  function ws.send(self, data, kind)
    assert.equal("binary", kind)
    if self.gone then return nil, "closed" end
    if self.refuse > 0 then
      self.refuse = self.refuse - 1
      return nil, "backpressure"
    end
    local header, body = data:match("^([^\n]*)\n(.*)$")
    local epoch, from, to, reset = header:match("^(%S+) (%d+) (%d+) ([01])$")
    self.messages[#self.messages + 1] = { epoch = epoch, from = tonumber(from), to = tonumber(to),
      reset = reset == "1", body = body, at = uv.hrtime() }
    return true
  end
  function ws.text(self)
    local parts = {}
    for _, m in ipairs(self.messages) do parts[#parts + 1] = m.body end
    return table.concat(parts)
  end
  return ws
end

local function append(path, text)
  local file = assert(io.open(path, "a"))
  file:write(text)
  file:close()
end

-- Runs the loop until CONDITION holds or a second has passed.
local function wait_for(condition)
  async.run(function()
    for _ = 1, 100 do
      if condition() then return end
      async.sleep(10)
    end
  end)
  return condition()
end

describe("a log stream", function()
  local dir, path
  before_each(function()
    dir = scratch.dir()
    path = dir .. "/box.log"
    append(path, "one\r\n\27[32mtwo\27[0m\r\n")
    hub.linger_ms = 0
  end)
  after_each(function()
    hub.close_idle()
    scratch.remove(dir)
  end)

  it("sends the backlog, then each write as it happens", function()
    local ws = recorder()
    assert(stream.serve(ws, path, {}))
    assert.equal(1, #ws.messages)
    assert.is_true(ws.messages[1].reset)
    assert.equal("one\r\n\27[32mtwo\27[0m\r\n", ws.messages[1].body)

    local written = uv.hrtime()
    append(path, "$ partial prompt ")
    assert.is_true(wait_for(function() return #ws.messages == 2 end))
    assert.equal("$ partial prompt ", ws.messages[2].body)
    assert.is_false(ws.messages[2].reset)
    -- Reported, not gated: timings never fail a test.
    print(("# write to send: %.1f ms"):format((ws.messages[2].at - written) / 1e6))
    ws.on_close()
    assert.is_true(wait_for(function() return hub.open_count() == 0 end))
  end)

  it("resumes a reconnecting client where it stopped, without duplicates", function()
    hub.linger_ms = 5000
    local first = recorder()
    stream.serve(first, path, {})
    local last = first.messages[#first.messages]
    first.on_close()
    append(path, "three\n")
    assert.equal(1, hub.open_count(), "the log lingers after its last viewer left")

    local again = recorder()
    stream.serve(again, path, { epoch = last.epoch, pos = tostring(last.to) })
    assert.is_false(again.messages[1].reset)
    assert.equal(last.to, again.messages[1].from)
    assert.equal("three\n", again:text())
    again.on_close()
  end)

  it("starts a client over when its log was closed meanwhile", function()
    local first = recorder()
    stream.serve(first, path, {})
    local last = first.messages[#first.messages]
    first.on_close()
    assert.is_true(wait_for(function() return hub.open_count() == 0 end))
    append(path, "three\n")
    local again = recorder()
    stream.serve(again, path, { epoch = last.epoch, pos = tostring(last.to) })
    assert.is_true(again.messages[1].reset)
    assert.equal("one\r\n\27[32mtwo\27[0m\r\nthree\n", again:text())
    again.on_close()
  end)

  it("gives a second viewer that resumes only what it lacks", function()
    local again = recorder()
    stream.serve(again, path, {})
    local tip = again.messages[#again.messages]
    local third = recorder()
    append(path, "four\n")
    stream.serve(third, path, { epoch = tip.epoch, pos = tostring(tip.to) })
    assert.is_true(wait_for(function() return again:text():find("four\n", 1, true) ~= nil end))
    assert.equal("four\n", third:text())
    assert.is_false(third.messages[1].reset)
    assert.equal(tip.to, third.messages[1].from)
    again.on_close()
    third.on_close()
  end)

  it("refuses positions that mean nothing and starts from the backlog", function()
    for _, query in ipairs {
      { epoch = "x", pos = "5" }, { pos = "-1" }, { pos = "1e9" }, { pos = "abc" }, { pos = "2.5" },
    } do
      local ws = recorder()
      stream.serve(ws, path, query)
      assert.is_true(ws.messages[1].reset)
      assert.equal(0, ws.messages[1].from)
      ws.on_close()
    end
  end)

  it("shares one tailer between viewers and loses nothing under backpressure", function()
    local fast, slow = recorder(), recorder()
    stream.serve(fast, path, {})
    stream.serve(slow, path, {})
    assert.equal(1, hub.open_count())
    slow.refuse = 1
    append(path, "five\n")
    assert.is_true(wait_for(function() return fast:text():find("five", 1, true) ~= nil end))
    assert.is_nil(slow:text():find("five", 1, true))
    append(path, "six\n")
    wait_for(function() return fast:text():find("six", 1, true) ~= nil end)
    slow.on_drain()
    assert.equal(fast:text(), slow:text())
    fast.on_close()
    assert.equal(1, hub.open_count())
    slow.on_close()
    assert.is_true(wait_for(function() return hub.open_count() == 0 end))
  end)

  it("follows a log that does not exist yet", function()
    local ws = recorder()
    local later = dir .. "/later.log"
    assert(stream.serve(ws, later, {}))
    assert.equal(0, #ws.messages)
    append(later, "hello\n")
    assert.is_true(wait_for(function() return ws:text() == "hello\n" end))
    ws.on_close()
  end)

  it("stops for a client that went away", function()
    local ws = recorder()
    stream.serve(ws, path, {})
    ws.gone = true
    append(path, "seven\n")
    assert.is_true(wait_for(function() return hub.open_count() == 0 end))
  end)
end)
