// bench/watch_page.mjs LOGIN_URL PAGE_URL SECONDS: a person watching one
// page of the dashboard in headless Chromium for SECONDS (prints "ready"
// once the page is open).
import { chromium } from "playwright-core";

const [login, pageUrl, seconds] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // --no-sandbox only because the benchmark runs as root on the host.
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
await page.goto(login);
await page.waitForURL((url) => url.pathname === "/");
await page.goto(pageUrl);
console.log("ready");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
await browser.close();
