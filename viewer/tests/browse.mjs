// viewer/tests/browse.mjs
// Drives the viewer in headless Chromium against a running `amber serve`
// (URL and snapshot id from the command line) and checks what a person would
// see: the snapshot list, the roots, paging, a path lookup, and that strings
// a VM sent are shown as text, never run as HTML.
// Usage: node browse.mjs URL SNAPSHOT-ID
import { chromium } from "playwright-core";

const [url, snap] = process.argv.slice(2);
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); else console.log("ok  " + what); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  let dialogs = 0;
  page.on("dialog", d => { dialogs++; d.dismiss(); });
  const pageErrors = [];
  page.on("pageerror", e => pageErrors.push(e.message));

  await page.goto(url + "/");
  await page.getByRole("link", { name: "#" + snap, exact: true }).waitFor();
  check(true, "the home page lists snapshot #" + snap);

  await page.goto(url + "/#/s/" + snap);
  await page.getByText("content hash").waitFor();
  const roots = await page.locator("main table").first().innerText();
  check(roots.includes("globals"), "the snapshot page shows the globals root");

  // A path lookup leads to the node; its string field holds an HTML payload.
  await page.fill("input[name=path]", "globals.app.state");
  await page.click("form.inline button");
  await page.waitForURL(/#\/s\/\d+\/n\/\d+$/);
  await page.getByText("Retainers").waitFor();
  // The node's edges arrive after its heading: wait for the string itself
  // (as text, which is the point), for a while, before judging.
  const payload = "<img src=x onerror=alert(1)>";
  await page.locator("main").getByText(payload).first().waitFor({ timeout: 10000 }).catch(() => {});
  const body = await page.locator("main").innerText();
  check(body.includes(payload), "a VM string with HTML in it is shown as text");
  check(await page.locator("main img").count() === 0, "no element was made from VM data");
  check(dialogs === 0, "no script from VM data ran");

  // Paths from the roots, on demand.
  await page.getByRole("button", { name: "find paths from the roots" }).click();
  await page.locator("main ol li").first().waitFor();
  const path = await page.locator("main ol li").first().innerText();
  check(path.includes("globals → app → state"), "the path from the roots reads globals → app → state (" + path + ")");

  // Heap analysis on the snapshot page: summary by type and largest retainers.
  await page.goto(url + "/#/s/" + snap);
  await page.getByRole("button", { name: "compute summary and retained sizes" }).click();
  await page.getByText("Largest retainers").waitFor();
  await page.locator("main h3 + div table").first().waitFor();
  const summary = await page.locator("main h3 + div table").first().innerText();
  check(/table\s/.test(summary), "the summary by type lists tables");

  // Paging: the items table has 120 entries, shown 50 at a time.
  await page.goto(url + "/#/s/" + snap);
  await page.fill("input[name=path]", "globals.app.state.items");
  await page.click("form.inline button");
  await page.waitForURL(/#\/s\/\d+\/n\/\d+$/);
  const pager = page.locator(".pager").first();
  await pager.getByText("of 120").waitFor();
  check((await pager.innerText()).includes("1–50 of 120"), "the first page of 120 edges shows 50");
  await pager.getByRole("button", { name: "next ▶" }).click();
  await pager.getByText("51–100 of 120").waitFor();
  check(true, "next shows the second page");

  check(pageErrors.length === 0, "no script errors on the page (" + pageErrors.join("; ") + ")");
} catch (e) {
  problems.push("browser step failed: " + e.message);
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.log("FAIL " + p);
  process.exit(1);
}
