-- The frames between sbx run and a VM's guest agent. What the guest sends
-- is untrusted: anything that is not a frame ends the session clearly.
local frame = require "sbx.vm.frame"

describe("VM frames", function()
  it("carry a type, a 32-bit big-endian length and the payload", function()
    assert.equal("D\0\0\0\3abc", frame.encode("D", "abc"))
    assert.equal("Z\0\0\0\0", frame.encode("Z"))
    assert.has_error(function() frame.encode("D", ("x"):rep(frame.MAX_PAYLOAD + 1)) end)
  end)

  it("are decoded however the stream is cut", function()
    local stream = frame.encode("O", "hello") .. frame.encode("E", "") .. frame.encode("X", "code 3")
    for cut = 0, #stream do
      local decoder = frame.decoder(frame.from_guest)
      local got = {}
      for _, part in ipairs { stream:sub(1, cut), stream:sub(cut + 1) } do
        for _, f in ipairs(assert(decoder:feed(part))) do got[#got + 1] = f.kind .. ":" .. f.payload end
      end
      assert.same({ "O:hello", "E:", "X:code 3" }, got, "cut at " .. cut)
    end
  end)

  it("refuse an unknown type or an oversized length, and stay refused", function()
    for _, bad in ipairs {
      { "S\0\0\0\1x", "unknown type" },
      { "O\255\255\255\255", "a frame of 4294967295 bytes" },
      { "O\0\1\0\1", "a frame of 65537 bytes" },
    } do
      local decoder = frame.decoder(frame.from_guest)
      local frames, err = decoder:feed(frame.encode("O", "fine") .. bad[1])
      assert.is_nil(frames)
      assert.matches(bad[2], err, 1, true)
      assert.is_nil((decoder:feed(frame.encode("O", "later"))))
    end
  end)

  it("give an exit status only when it is one", function()
    assert.same({ code = 0 }, frame.exit_status("code 0"))
    assert.same({ code = 255 }, frame.exit_status("code 255"))
    assert.same({ signal = 9 }, frame.exit_status("signal 9"))
    for _, bad in ipairs { "code 256", "code -1", "signal 0", "signal 99", "code 1 ", "exit 1", "", "code 1e3" } do
      assert.is_nil(frame.exit_status(bad), bad)
    end
  end)

  it("start a session with NUL-terminated fields, refusing a NUL inside one", function()
    local payload = assert(frame.start_payload { mode = "pty", lifetime = "all", rows = 40, cols = 120,
      cwd = "/p", argv = { "bash", "-c", "x" }, env = { "A=1" } })
    assert.equal("pty\0all\0" .. "40\0" .. "120\0/p\0" .. "3\0bash\0-c\0x\0" .. "1\0A=1\0", payload)
    local none, err = frame.start_payload { mode = "pipes", cwd = "/p", argv = { "a\0b" }, env = {} }
    assert.is_nil(none)
    assert.matches("holds a NUL byte", err, 1, true)
    none, err = frame.start_payload { mode = "pipes", cwd = "/p", argv = { ("x"):rep(70000) }, env = {} }
    assert.is_nil(none)
    assert.matches("a VM session takes at most 65536", err, 1, true)
  end)
end)
