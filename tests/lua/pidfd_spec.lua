-- pidfd.end_with: a watcher, outliving its caller, that ends one process
-- when another has ended, and meanwhile holds a descriptor open for it.
local pidfd = require "sbx.pidfd"
local uv = require "luv"

-- A `sleep 30` of our own: its pid, start time and exit status (once known).
local function sleeper()
  local process = {}
  local handle, pid = uv.spawn("sleep", { args = { "30" } }, function(code, signal)
    process.code, process.signal = code, signal
  end)
  assert(handle, pid)
  process.handle, process.pid = handle, pid
  process.start_time = assert(pidfd.start_time(pid))
  return process
end

-- Runs the loop until CONDITION holds, at most 10 s.
local function until_true(condition)
  for _ = 1, 1000 do
    if condition() then return true end
    uv.run("nowait")
    uv.sleep(10)
  end
  return condition()
end

describe("pidfd.end_with", function()
  it("ends the victim once the watched process has ended, holding a descriptor open until then", function()
    local watched, victim = sleeper(), sleeper()
    local ends = assert(uv.pipe({ nonblock = true }, {}))
    assert(pidfd.end_with(watched.pid, watched.start_time, victim.pid, victim.start_time, ends.write))
    uv.fs_close(ends.write) -- the watcher's copy is the only one left
    local _, err = uv.fs_read(ends.read, 1, -1)
    assert.truthy(tostring(err):find("EAGAIN"), "the write end is still open: " .. tostring(err))
    assert.is_nil(victim.signal)

    uv.process_kill(watched.handle, "sigkill")
    assert.is_true(until_true(function() return victim.signal ~= nil end), "the victim did not end")
    assert.equal(15, victim.signal)
    assert.is_true(until_true(function() return uv.fs_read(ends.read, 1, -1) == "" end),
      "the held descriptor was not closed")
    uv.fs_close(ends.read)
    watched.handle:close()
    victim.handle:close()
  end)

  it("refuses a process that is not the one named, and a bad descriptor argument", function()
    local watched, victim = sleeper(), sleeper()
    local ok, err = pidfd.end_with(watched.pid, watched.start_time + 1, victim.pid, victim.start_time)
    assert.is_nil(ok)
    assert.truthy(err)
    assert.has_error(function()
      pidfd.end_with(watched.pid, watched.start_time, victim.pid, victim.start_time, -5)
    end)
    for _, process in ipairs { watched, victim } do
      uv.process_kill(process.handle, "sigkill")
      until_true(function() return process.signal ~= nil end)
      process.handle:close()
    end
  end)
end)
