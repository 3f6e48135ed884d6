// The dashboard in a real browser (headless Chromium through playwright-core),
// against a real manager with real sandboxes. Run by
// tests/integration/dashboard.sh, which starts the manager and passes:
//   LOGIN_URL BASE_URL PROJECT_DIR TMUX_SOCKET MANAGER_STATE_DIR SBX SHOT_DIR
// The manager's sandboxes run Claude Code against the scripted model server
// (tests/integration/dashboard.sh holds the script and its exact usage).
// Prints TAP lines (the shell suite prints the plan).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const env = process.env;
let count = 0;
let failed = 0;
function ok(pass, description, detail) {
  count += 1;
  if (!pass) failed += 1;
  console.log(`${pass ? "" : "not "}ok ${count} - ${description}`);
  if (!pass && detail) console.log(String(detail).split("\n").map((l) => `#   ${l}`).join("\n"));
}
async function check(description, fn) {
  try {
    const detail = await fn();
    ok(detail === undefined || detail === true, description, detail);
  } catch (error) {
    ok(false, description, error.stack || error);
  }
}
function tmux(...args) {
  return execFileSync("tmux", ["-S", env.TMUX_SOCKET, ...args], { encoding: "utf8" });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // --no-sandbox only because this test driver runs as root on the host.
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => {
  // Failed loads are reported with their URL by the response handler.
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
});
page.on("response", (r) => {
  const expected = r.status() === 422 && r.url().endsWith("/new"); // the form error test
  if (r.status() >= 400 && !expected) consoleErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));

async function shoot(name) {
  for (const [label, size] of [["wide", { width: 1280, height: 900 }], ["narrow", { width: 390, height: 844 }]]) {
    await page.setViewportSize(size);
    await sleep(300);
    await page.screenshot({ path: `${env.SHOT_DIR}/${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

let sandboxId = null;

// Creates a sandbox through the form with the network box ticked (host
// mode: Claude Code reaches the model server on this host's loopback);
// returns its id.
async function createWithHost(name, projectDir) {
  await page.goto(`${env.BASE_URL}/new`);
  await page.fill("#name", name);
  await page.fill("#project_dir", projectDir);
  await page.check("#network");
  await page.selectOption("#network_mode", "host");
  await Promise.all([page.waitForURL(/\/sandboxes\/[0-9a-f-]{36}$/), page.click("button[type=submit]")]);
  return page.url().split("/").pop();
}
function firstPaneOf(id) {
  return tmux("list-panes", "-s", "-t", `=sandbox-${id.slice(0, 8)}`, "-F", "#{pane_id}").split("\n")[0];
}
async function waitForPrompt(pane) {
  for (let i = 0; i < 300 && !tmux("capture-pane", "-p", "-t", pane).includes("\u276f"); i++) await sleep(100);
}
try {
  await check("the one-time login link logs the browser in and lands on the dashboard", async () => {
    const response = await page.goto(env.LOGIN_URL);
    if (!response.ok()) return `status ${response.status()}`;
    // The login page sets the cookie, then moves on to / by itself.
    await page.waitForURL((url) => url.pathname === "/");
    await page.waitForSelector("#system-metrics .stat");
  });
  await check("the index shows the host's CPU, memory, load, network and disks", async () => {
    const text = await page.textContent("#system-metrics");
    for (const word of ["CPU", "Memory", "Load", "Network", "Disk"]) {
      if (!text.includes(word)) return `no ${word} in: ${text}`;
    }
  });
  await shoot("index-empty");

  await check("the new-sandbox form creates a sandbox with the network checkbox unticked", async () => {
    await page.click("a[href='/new']");
    await page.fill("#name", "browser-test");
    await page.fill("#project_dir", env.PROJECT_DIR);
    await page.selectOption("#backend", "bubblewrap");
    await shoot("new");
    await page.uncheck("#network");
    await Promise.all([page.waitForURL(/\/sandboxes\/[0-9a-f-]{36}$/), page.click("button[type=submit]")]);
    sandboxId = page.url().split("/").pop();
    const api = await page.request.get(`${env.BASE_URL}/api/sandboxes/${sandboxId}`);
    const record = await api.json();
    if (record.network !== "none") return `network is ${record.network}`;
  });

  await check("a form error is shown on the form, naming the field", async () => {
    await page.goto(`${env.BASE_URL}/new`);
    await page.fill("#name", "bad");
    await page.fill("#project_dir", "relative/path");
    await page.click("button[type=submit]");
    const alert = await page.textContent("[role=alert]");
    const invalid = await page.getAttribute("#project_dir", "aria-invalid");
    if (!alert.includes("project_dir") || invalid !== "true") return `${alert} ${invalid}`;
    await shoot("new-error");
  });

  await check("the sandbox is listed on the index", async () => {
    await page.goto(`${env.BASE_URL}/`);
    await page.waitForSelector(`[data-sandbox="${sandboxId}"]`);
    const text = await page.textContent(`[data-sandbox="${sandboxId}"]`);
    if (!text.includes("browser-test") || !text.includes("running")) return text;
  });

  await check("with the checkbox ticked, the form's network mode is used", async () => {
    sandboxId = await createWithHost("window-test", env.PROJECT_DIR);
    const record = await (await page.request.get(`${env.BASE_URL}/api/sandboxes/${sandboxId}`)).json();
    if (record.network !== "host") return `network is ${record.network}`;
  });

  // A real Claude Code session, in a sandbox on a project of its own (the
  // figures are per project), run first so that it alone uses the model
  // server's script.
  let claudeId = null;
  await check("a real Claude Code session in a sandbox runs the scripted tool call", async () => {
    claudeId = await createWithHost("claude-test", env.CLAUDE_PROJECT_DIR);
    const pane = firstPaneOf(claudeId);
    await waitForPrompt(pane);
    tmux("send-keys", "-t", pane, "-l", "Please write metrics.txt");
    await sleep(300);
    tmux("send-keys", "-t", pane, "Enter");
    let answeredAt = 0;
    for (let i = 0; i < 600; i++) {
      const screen = tmux("capture-pane", "-p", "-t", pane);
      if (existsSync(`${env.CLAUDE_PROJECT_DIR}/metrics.txt`) && screen.includes("metrics.txt holds")) return;
      // Claude Code asks before running the command: the user picks "1. Yes"
      // (again if the dialog was not listening yet).
      if (screen.includes("Do you want to proceed?") && Date.now() - answeredAt > 2000) {
        await sleep(500);
        tmux("send-keys", "-t", pane, "1");
        answeredAt = Date.now();
      }
      await sleep(100);
    }
    return tmux("capture-pane", "-p", "-t", pane);
  });

  // Claude Code runs in the sandbox's first pane (the one logged). Its "!"
  // mode runs a command in the sandbox itself: open a window of one colour
  // on the sandbox's display.
  const firstPane = firstPaneOf(sandboxId);
  await waitForPrompt(firstPane);
  tmux("send-keys", "-t", firstPane, "-l", "!");
  await sleep(300);
  tmux("send-keys", "-t", firstPane, "-l",
    "setsid -f xmessage -bg '#ff8800' -geometry 1280x1024+0+0 sbx-window > /dev/null 2>&1");
  await sleep(300);
  tmux("send-keys", "-t", firstPane, "Enter");

  await page.goto(`${env.BASE_URL}/sandboxes/${sandboxId}`);
  await check("the sandbox page shows a live screenshot of the window it opened (checked by pixel)", async () => {
    const deadline = Date.now() + 60000;
    let last = null;
    while (Date.now() < deadline) {
      last = await page.evaluate(() => {
        const image = document.querySelector("#screen img");
        if (!image || !image.complete || image.naturalWidth === 0) return null;
        const canvas = document.createElement("canvas");
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        const context2d = canvas.getContext("2d");
        context2d.drawImage(image, 0, 0);
        const [r, g, b] = context2d.getImageData(640, 600, 1, 1).data;
        return { r, g, b, width: image.naturalWidth, src: image.src.slice(0, 5) };
      });
      if (last && Math.abs(last.r - 0xff) < 16 && Math.abs(last.g - 0x88) < 16 && last.b < 16) return;
      await sleep(500);
    }
    return `the screen never showed the page's colour: ${JSON.stringify(last)}`;
  });
  await check("the live screenshot is refreshed in place (a blob from the ETag loop)", async () => {
    const src = await page.getAttribute("#screen img", "src");
    if (!src.startsWith("blob:")) return src;
  });

  await check("a line typed into the sandbox's tmux session shows in the log viewer within 1 s", async () => {
    await page.waitForFunction(() => window.sbxTerminal && document.querySelector("#log-state.live"));
    // The logged pane is the session's first: Claude Code's prompt. Typed
    // text shows in its input box (not submitted).
    const marker = `typed${Date.now()}`;
    const typedAt = Date.now();
    tmux("send-keys", "-t", firstPane, "-l", marker);
    await page.waitForFunction((text) => {
      const buffer = window.sbxTerminal.buffer.active;
      for (let i = 0; i < buffer.length; i++) {
        const line = buffer.getLine(i);
        if (line && line.translateToString(true).includes(text)) return true;
      }
      return false;
    }, marker, { timeout: 1000, polling: 20 });
    console.log(`# typed line seen in the browser after ${Date.now() - typedAt} ms`);
  });

  await check("a reconnecting log viewer resumes where it stopped: every byte once, no gap", async () => {
    const firstSocket = await page.evaluateHandle(() => window.sbxLogSocket);
    await page.evaluate(() => window.sbxLogSocket.close());
    // Written while the viewer is away.
    tmux("send-keys", "-t", firstPane, "-l", " while-away");
    await page.waitForFunction((old) => window.sbxLogSocket !== old &&
      window.sbxLogSocket.readyState === 1, firstSocket, { timeout: 10000 });
    const logPath = `${env.MANAGER_STATE_DIR}/logs/${sandboxId}.log`;
    let state = null;
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      state = await page.evaluate(() => ({ ranges: window.sbxLogRanges, position: window.sbxLogPosition }));
      if (state.position === statSync(logPath).size) break;
    }
    const size = statSync(logPath).size;
    let expected = 0;
    for (const [from, to] of state.ranges) {
      if (from !== expected) return `a range starts at ${from}, expected ${expected}: ${JSON.stringify(state.ranges)}`;
      expected = to;
    }
    if (expected !== size) return `received up to ${expected} of ${size} bytes`;
    if (state.ranges.length < 2) return "no second connection seen";
  });
  await shoot("sandbox");

  await check("the sandbox page shows the session's tokens and tools, each response counted once", async () => {
    const expected = { "Input tokens": "2,500", "Output tokens": "46", "Cache written": "500",
      "Cache read": "14,500", "Tool uses": "1", "Tool results": "1", "Sessions": "1" };
    let figures = null;
    for (let i = 0; i < 20; i++) {
      await page.goto(`${env.BASE_URL}/sandboxes/${claudeId}`);
      figures = await page.evaluate(() => {
        const map = {};
        for (const div of document.querySelectorAll("#claude-metrics .figures > div")) {
          map[div.querySelector("dt").textContent] = div.querySelector("dd").firstChild.textContent.trim();
        }
        map.tools = [...document.querySelectorAll("#claude-metrics .tools tbody tr")]
          .map((tr) => [...tr.children].map((td) => td.textContent.trim()).join("="));
        return map;
      });
      if (Object.entries(expected).every(([k, v]) => figures[k] === v)) break;
      await sleep(500);
    }
    const wrong = Object.entries(expected).filter(([k, v]) => figures[k] !== v);
    if (wrong.length) return `expected ${JSON.stringify(expected)}, got ${JSON.stringify(figures)}`;
    if (figures.tools.join(",") !== "Bash=1") return `tools: ${figures.tools}`;
    if (!figures["Estimated cost"].startsWith("$")) return `cost: ${figures["Estimated cost"]}`;
    if (figures.Prompts !== "1") return `prompts: ${figures.Prompts}`;
    // Priced as claude-sonnet-4 in the spec: the model the manager's
    // sandboxes were told to use (ANTHROPIC_MODEL).
    const cost = (2500 * 3 + 46 * 15 + 500 * 3.75 + 14500 * 0.3) / 1e6;
    const api = await (await page.request.get(`${env.BASE_URL}/api/sandboxes/${claudeId}/metrics`)).json();
    if (api.claude.input_tokens !== 2500 || api.claude.tools.Bash !== 1 || !(api.rss_bytes > 0) ||
        Math.abs(api.claude.estimated_cost_usd - cost) > 1e-9 || api.claude.responses !== 2) {
      return `API: ${JSON.stringify(api)}`;
    }
  });
  await shoot("sandbox-claude");

  await check("the transcript shows the prompt, the tool call and the answer's markdown as HTML", async () => {
    await page.goto(`${env.BASE_URL}/sandboxes/${claudeId}/transcript`);
    await shoot("transcript-list");
    await page.click(".sessions a");
    await page.waitForSelector(".transcript .entry.assistant");
    const html = await page.innerHTML(".transcript");
    if (!html.includes("<strong>metrics.txt</strong>")) return "no rendered markdown";
    const tool = await page.textContent(".transcript .entry.tool_use");
    if (!tool.includes("Bash") || !tool.includes("echo metrics")) return tool;
    const user = (await page.$$eval(".transcript .entry.user", (all) => all.map((e) => e.textContent))).join("\n");
    if (!user.includes("Please write metrics.txt")) return user;
    await shoot("transcript");
  });

  await check("stop, then delete, from the sandbox page", async () => {
    await page.goto(`${env.BASE_URL}/sandboxes/${sandboxId}`);
    await Promise.all([page.waitForEvent("load"), page.click("button:has-text('Stop')")]);
    await page.waitForSelector(".badge.stopped, .badge.dead");
    page.once("dialog", (dialog) => dialog.accept());
    await Promise.all([page.waitForURL(`${env.BASE_URL}/`), page.click("button:has-text('Delete')")]);
    const api = await page.request.get(`${env.BASE_URL}/api/sandboxes/${sandboxId}`);
    if (api.status() !== 404) return `still there: ${api.status()}`;
    await shoot("index-after");
  });

  ok(consoleErrors.length === 0, "no errors in the browser console, no failed request", consoleErrors.join("\n"));
} finally {
  await browser.close();
}
process.exitCode = failed ? 1 : 0;
