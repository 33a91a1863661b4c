/**
 * What a screen of the console is checked for, by its browser tests and by
 * its tour (scripts/console-tour.ts), which runs outside ava (so this module
 * imports nothing of the test harness): settled (its data loaded), no
 * serious or critical axe-core violation, nothing cut off at the side.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * The serious and critical axe-core violations of the page as it is now (WCAG
 * 2.1 A and AA rules and best practices), one line each. axe runs in the
 * page through the debugging protocol, as a test tool does: the page's own CSP
 * still allows no script but the console's.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(AXE);
  const results = await page.evaluate(() => {
    // The page's globals, named without the DOM's types (the tests are type-checked for Node).
    const window = globalThis as unknown as { document: object; axe: { run: (context: object, options: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } };
    return window.axe.run(window.document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
  });
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/** Waits until the screen has what it loads: no request in flight, nothing marked busy, no announcement left. */
export async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
  await page.locator('[aria-busy="true"]').first().waitFor({ state: "detached" });
  // An announcement ("Client created") goes after a few seconds.
  await page.getByRole("status").filter({ hasText: /./ }).first().waitFor({ state: "detached", timeout: 15_000 });
}

/** How far the page is wider than the window, in CSS pixels (0 when nothing is cut off and nothing scrolls sideways). */
export function overflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    type Box = { scrollWidth: number; clientWidth: number };
    const window = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number }; querySelectorAll(selector: string): Iterable<Box> } };
    // The page itself, and each table's own scrolling box: a table that scrolls sideways inside the page is cut off too.
    const tables = [...window.document.querySelectorAll(".table-wrap")].map((box) => box.scrollWidth - box.clientWidth);
    return Math.max(0, window.document.documentElement.scrollWidth - window.innerWidth, ...tables);
  });
}
