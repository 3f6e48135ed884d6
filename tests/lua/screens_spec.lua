-- Screenshots of a real Xvfb with a real window on it (Chromium showing
-- a page of a known colour), through the -fbdir file.
local async = require "sbx.async"
local uv = require "luv"
local screens = require "sbx.dashboard.screens"
local process = require "sbx.manager.process"
local paths = require "sbx.paths"
local scratch = dofile("tests/lua/support/scratch.lua")
teardown(scratch.clean)
local xvfb = dofile("tests/lua/support/xvfb.lua")

-- The colour of pixel X,Y of a JPEG, through ImageMagick.
local function pixel(jpeg, x, y)
  local path = scratch.path("frame.jpg")
  local file = assert(io.open(path, "wb"))
  file:write(jpeg)
  file:close()
  local command = ("convert '%s' -format '%%[fx:int(255*p{%d,%d}.r)] %%[fx:int(255*p{%d,%d}.g)] " ..
    "%%[fx:int(255*p{%d,%d}.b)]' info:"):format(path, x, y, x, y, x, y)
  local output = io.popen(command):read("a")
  os.remove(path)
  local r, g, b = output:match("(%d+) (%d+) (%d+)")
  return tonumber(r), tonumber(g), tonumber(b)
end

local function near(a, b) return a and math.abs(a - b) <= 12 end

describe("screenshots", function()
  local missing = not paths.which("Xvfb") and "Xvfb" or not paths.which("chromium") and "chromium"
      or not paths.which("convert") and "ImageMagick convert"
  if missing then
    it("need " .. missing, function() pending("this machine has no " .. missing) end)
    return
  end

  local dir, stop_xvfb, browser, record
  setup(function()
    dir = scratch.dir()
    local display = assert(xvfb.free_display(), "no free X display number")
    stop_xvfb = xvfb.start(display, dir, "800x600x24")
    record = { id = "screens-spec", fb_dir = dir .. "/", display = ":" .. display }
  end)
  teardown(function()
    -- Chromium and every process it started, so that none is left, nor its
    -- files: asked to end, it removes them itself.
    if browser then
      async.run(function() process.terminate(process.tree(browser), 5000) end)
    end
    if stop_xvfb then stop_xvfb() end
    screens.forget(record.id)
  end)

  it("captures the empty screen, then a window drawn on it", function()
    local first = async.run(function() return screens.frame(record, "live") end)
    assert.truthy(first and first.jpeg)
    assert.same({ 800, 600 }, { first.width, first.height })
    assert.equal("\255\216", first.jpeg:sub(1, 2))

    local profile = dir .. "/profile"
    local handle
    handle, browser = uv.spawn("chromium", {
      args = { "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--user-data-dir=" .. profile,
        "--window-position=0,0", "--window-size=800,600",
        "--app=data:text/html,<body style='background:%2333cc66'></body>" },
      env = { "DISPLAY=" .. record.display, "XAUTHORITY=" .. require("sbx.manager.display").xauthority_path(dir),
        "HOME=" .. dir, "TMPDIR=" .. dir },
    }, function() handle:close() end)
    local frame
    async.run(function()
      for _ = 1, 150 do
        async.sleep(200)
        frame = screens.frame(record, "live")
        local r, g, b = pixel(frame.jpeg, 400, 400)
        if near(r, 0x33) and near(g, 0xcc) and near(b, 0x66) then return end
      end
    end)
    local r, g, b = pixel(frame.jpeg, 400, 400)
    assert.is_true(near(r, 0x33) and near(g, 0xcc) and near(b, 0x66),
      ("the page's colour is on screen: %s %s %s"):format(r, g, b))
    assert.are_not.equal(first.etag, frame.etag)
  end)

  it("does not encode an unchanged frame again, and throttles a variant", function()
    local a, b, c
    async.run(function()
      a = screens.frame(record, "thumb")
      b = screens.frame(record, "thumb")
      async.sleep(screens.variants.live.min_interval_ms + 50)
      local saved = screens.variants.thumb.min_interval_ms
      screens.variants.thumb.min_interval_ms = 0
      c = screens.frame(record, "thumb")
      screens.variants.thumb.min_interval_ms = saved
    end)
    assert.equal(480, a.width)
    assert.equal(a, b, "within the interval the same frame is served")
    if a.fingerprint == c.fingerprint then
      assert.equal(a.jpeg, c.jpeg, "an unchanged screen is not encoded again")
    end
  end)

  it("reports a sandbox without a screen, or whose screen is gone", function()
    local none, err = async.run(function() return screens.frame({ id = "x" }, "live") end)
    assert.is_nil(none)
    assert.truthy(err:find("no screen", 1, true))
    local gone, why = async.run(function()
      return screens.frame({ id = "y", fb_dir = dir .. "/nowhere/" }, "live")
    end)
    assert.is_nil(gone)
    assert.truthy(why:find("No such file", 1, true))
    screens.forget("y")
  end)
end)
