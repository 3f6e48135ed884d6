// The dashboard's own behaviour, with no inline script (the pages' CSP
// allows only scripts from the manager itself):
//  - after a stop or a delete button's request: reload, or go home;
//  - the live screen: fetched again while the page is visible, and only
//    replaced when the server says it changed (ETag);
//  - the terminal log: xterm.js fed by a WebSocket that resumes where it
//    stopped after a reconnection (see lua/sbx/dashboard/log_stream.lua).
"use strict";

(function () {
  document.addEventListener("htmx:afterRequest", function (event) {
    var element = event.detail.elt;
    var after = element && element.getAttribute("data-after");
    if (!after || !event.detail.successful) return;
    if (after === "reload") window.location.reload();
    if (after === "home") window.location.href = "/";
  });

  // ---- the live screen ----
  // htmx refreshes the screen's fragment now and then (it also brings the
  // image in once a screen exists); in between, this loop asks for new
  // frames, and whichever <img> is current gets them.
  var LIVE_INTERVAL_MS = 400;

  function followScreen() {
    var etag = null;
    var objectUrl = null;
    var timer = null;
    function schedule() {
      clearTimeout(timer);
      if (!document.hidden) timer = setTimeout(poll, LIVE_INTERVAL_MS);
    }
    function poll() {
      var image = document.querySelector("img[data-live-src]");
      if (!image) return schedule();
      var headers = etag ? { "If-None-Match": etag } : {};
      fetch(image.getAttribute("data-live-src"),
            { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status !== 200) return null;
          etag = response.headers.get("ETag");
          return response.blob().then(function (blob) {
            var next = URL.createObjectURL(blob);
            image.src = next;
            image.dataset.etag = etag || "";
            if (objectUrl) URL.revokeObjectURL(objectUrl);
            objectUrl = next;
          });
        })
        .catch(function () {})
        .then(schedule);
    }
    document.addEventListener("visibilitychange", schedule);
    poll();
  }

  // ---- the terminal log ----
  function followLog(container) {
    var state = document.getElementById("log-state");
    // The log is what tmux drew for a pane of a known size: draw it at
    // that size (smaller type when the page is narrower), or fit the page
    // when the size is not known.
    var cols = Number(container.getAttribute("data-cols")) || 0;
    var rows = Number(container.getAttribute("data-rows")) || 0;
    var options = {
      convertEol: false,
      scrollback: 5000,
      fontSize: 13,
      disableStdin: true,
      cursorBlink: false,
      theme: { background: "#000000" },
    };
    if (cols && rows) {
      options.cols = cols;
      options.rows = rows;
      // A monospace cell is about 0.6 of the font size wide.
      options.fontSize = Math.max(7, Math.min(13, Math.floor(container.clientWidth / (cols * 0.61))));
    }
    var terminal = new window.Terminal(options);
    terminal.open(container);
    if (!cols || !rows) {
      var fit = new window.FitAddon.FitAddon();
      terminal.loadAddon(fit);
      fit.fit();
      window.addEventListener("resize", function () { fit.fit(); });
    }
    window.sbxTerminal = terminal; // for the browser tests
    window.sbxLogRanges = [];

    var epoch = null;
    var position = null;
    var delay = 500;
    var decoder = new TextDecoder("ascii");

    function setState(text, live) {
      if (!state) return;
      state.textContent = text;
      state.className = "log-state" + (live ? " live" : "");
    }

    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var url = scheme + window.location.host + container.getAttribute("data-log-url");
      if (epoch !== null) url += "?epoch=" + encodeURIComponent(epoch) + "&pos=" + position;
      var socket = new WebSocket(url);
      window.sbxLogSocket = socket; // for the browser tests
      socket.binaryType = "arraybuffer";
      socket.onopen = function () { delay = 500; setState("live", true); };
      socket.onmessage = function (message) {
        if (typeof message.data === "string") return;
        var bytes = new Uint8Array(message.data);
        var newline = bytes.indexOf(10);
        if (newline < 0) return;
        var header = decoder.decode(bytes.subarray(0, newline)).split(" ");
        var from = Number(header[1]);
        if (header[3] === "1") {
          terminal.reset();
        } else if (position !== null && from > position) {
          terminal.write("\r\n\x1b[33m[… " + (from - position) + " bytes not kept …]\x1b[0m\r\n");
        }
        terminal.write(bytes.subarray(newline + 1));
        epoch = header[0];
        position = Number(header[2]);
        // What arrived, for the browser tests: resuming must leave no
        // overlap and no gap.
        if (header[3] === "1") window.sbxLogRanges = [];
        window.sbxLogRanges.push([from, position]);
        window.sbxLogPosition = position;
      };
      socket.onclose = function () {
        setState("reconnecting…", false);
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.getElementById("screen")) followScreen();
    var log = document.getElementById("terminal");
    if (log && window.Terminal) followLog(log);
  });
})();
