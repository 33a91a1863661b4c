/**
 * The administration console's tour: a picture of every screen for
 * docs/console-tour.md, made again by `npm run docs:console-tour` whenever
 * the console changes, never by hand.
 *
 * It starts iam-core in this process on a throwaway database (the core and
 * gateway `npm start` runs, with a clock the tour holds still), makes a small
 * tenant (console-tour-seed.ts), and drives Debian's chromium through the
 * console as a global administrator: signed in through iam-core's own
 * pages, then each screen in turn, each checked by axe-core (any serious or
 * critical violation fails the tour, and nothing is written). The pictures
 * are 1280x800 and light, plus the dashboard in dark and one screen at
 * 390x844.
 *
 * The same tenant, times and ids on every run: the pictures change only when
 * the console does. The browser reaches the server through it as its proxy,
 * so that the addresses shown are `npm start`'s own (http://localhost:8080)
 * whatever port the tour listens on; the page's clock is held at the
 * server's; what is random by nature (key ids, a client's secret) is blanked out.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { createCore } from "../core/server/compose.js";
import { loadConfig } from "../core/server/config.js";
import { createGateway } from "../gateway/app.js";
import { startGatewayServer } from "../gateway/server.js";
import { createInProcessTransport } from "../wire/in-process-transport.js";
import { axeViolations, settle } from "../test/browser/console/_screen.js";
import { seedTenant, TourClock } from "./console-tour-seed.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PICTURES = join(ROOT, "docs", "console");
const TOUR_PAGE = join(ROOT, "docs", "console-tour.md");
const CHROMIUM = "/usr/bin/chromium";

/** The base URL the pictures show: `npm start`'s default. */
const BASE_URL = "http://localhost:8080";
const ADMIN_PASSWORD = "tour-admin-password";
const ADMIN_CLIENT_SECRET = "tour-admin-client-secret";
/** When the pictures are taken, on the server's clock and the page's. */
const NOW = "2026-03-02T08:45:00Z";
const VIEWPORT = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };

/**
 * Text that is random by nature: key ids and secrets (43 base64url
 * characters), UUIDs, and the beginning of a sign-in session's id that names
 * its button. Before a picture each is replaced by as many "▒" (where its
 * own characters would wrap a line differently from one run to the next),
 * and the replacement is what the picture shows.
 */
const RANDOM_TEXT = [/^()([A-Za-z0-9_-]{43})$/, /^()([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/, /^(Revoke session )(\S+)$/];

/** Replaces the random part of every text of the page that `RANDOM_TEXT` matches (the page's own DOM, before a picture). */
async function hideRandomText(page: Page): Promise<void> {
  await page.evaluate((sources) => {
    const patterns = sources.map((source) => new RegExp(source));
    // The page's globals, named without the DOM's types (scripts/ is type-checked for Node).
    type Text = { data: string };
    const document = (globalThis as unknown as { document: { body: object; createTreeWalker: (root: object, show: number) => { nextNode: () => Text | null } } }).document;
    const walker = document.createTreeWalker(document.body, 4 /* NodeFilter.SHOW_TEXT */);
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      for (const pattern of patterns) {
        const match = pattern.exec(node.data.trim());
        if (match !== null) node.data = `${match[1]}${"▒".repeat(match[2]!.length)}`;
      }
    }
  }, RANDOM_TEXT.map((pattern) => pattern.source));
}

interface Picture {
  file: string;
  title: string;
  /** One sentence for the tour's page. */
  says: string;
  png: Buffer;
}

/** iam-core on a throwaway database, its gateway also the browser's proxy. */
async function startServer(clock: TourClock) {
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "iam-console-tour-"));
  const config = loadConfig(
    {},
    {
      db: join(dir, "iam.db"),
      baseUrl: BASE_URL,
      httpPort: 0,
      grpcPort: 0,
      adminPassword: ADMIN_PASSWORD,
      adminClientSecret: ADMIN_CLIENT_SECRET,
      logLevel: "silent",
      // A still clock never refills a rate limit's bucket.
      loginRatePerAddress: 0,
      tokenRatePerClient: 0,
    },
  );
  const core = await createCore(config, { clock, purge: false, warn: false });
  const transport = createInProcessTransport(core.routes);
  const gateway = createGateway({ transport, baseUrl: BASE_URL, logger: core.deps.logger, metrics: core.deps.metrics }).callback();
  const server = await startGatewayServer(
    (req, res) => {
      // As a proxy it is asked for absolute URLs (http://localhost:8080/admin/): the gateway routes their paths.
      const url = req.url ?? "";
      if (url.startsWith(`${BASE_URL}/`)) req.url = url.slice(BASE_URL.length);
      else if (!url.startsWith("/")) {
        res.writeHead(502).end();
        return;
      }
      void gateway(req, res);
    },
    "127.0.0.1",
    0,
  );
  return {
    transport,
    origin: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The tour's pictures and what axe-core found on the way. */
class Album {
  readonly pictures: Picture[] = [];
  readonly violations: string[] = [];

  async take(page: Page, file: string, title: string, says: string, options: { fullPage?: boolean; from?: string } = {}): Promise<void> {
    await settle(page);
    // A screen shown from one of its parts (scrolled to its top), as a person scrolls to it.
    if (options.from !== undefined) await page.locator(options.from).first().evaluate((element) => (element as unknown as { scrollIntoView(): void }).scrollIntoView());
    for (const violation of await axeViolations(page)) this.violations.push(`${file}: ${violation}`);
    await hideRandomText(page);
    // The screen's title takes the focus as it opens; its ring, drawn or not by how the screen was reached, is left out.
    await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { blur?: () => void } | null } }).document.activeElement?.blur?.());
    const png = await page.screenshot({ fullPage: options.fullPage ?? true, animations: "disabled", caret: "hide" });
    this.pictures.push({ file: `${file}.png`, title, says, png });
  }
}

/** Follows a link of the console's navigation, as a person does, and waits for the screen's heading. */
async function go(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: link, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: heading, exact: true }).waitFor();
}

/** Follows a link in the screen (a row of a list) and waits for the next screen's heading. */
async function open(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole("main").getByRole("link", { name: link, exact: true }).first().click();
  await page.getByRole("heading", { level: 1, name: heading, exact: true }).waitFor();
}

/** The tour itself: every screen, in the order a new administrator meets them. */
async function visit(page: Page, album: Album): Promise<void> {
  await page.goto(`${BASE_URL}/admin/`);
  await page.getByRole("heading", { level: 1, name: "Sign in to the iam-core console" }).waitFor();
  await album.take(page, "sign-in", "Sign-in", "Global administrators sign in through iam-admins, a project's administrators through their own project, both on iam-core's own sign-in page.");

  await page.getByRole("button", { name: "Sign in as a global administrator" }).click();
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The console's consent is asked once, then remembered.
  const approve = page.getByRole("button", { name: "Allow" });
  const dashboard = page.getByRole("heading", { level: 1, name: "Dashboard" });
  await approve.or(dashboard).waitFor();
  if (await approve.isVisible()) await approve.click();
  await dashboard.waitFor();
  await album.take(page, "dashboard", "Dashboard", "What the signed-in administrator may reach, with counts and the latest events.");
  await page.emulateMedia({ colorScheme: "dark" });
  await album.take(page, "dashboard-dark", "Dashboard, dark", "The same screen when the system asks for dark colours (or the theme menu says so).");
  await page.emulateMedia({ colorScheme: "light" });

  await go(page, "Organizations", "Organizations");
  await album.take(page, "organizations", "Organizations", "Every organization of the server, a page at a time, and the form of a new one.");
  await open(page, "acme", "Organization acme");
  await album.take(page, "organization", "An organization", "An organization's name, its projects, a new project, and its deletion behind a confirmation naming what goes with it.");
  await open(page, "shop", "Project shop");
  await album.take(page, "project", "A project", "A project's issuer and discovery document, its settings, and who must sign in with a second factor.");

  await go(page, "Clients", "Clients");
  await album.take(page, "clients", "Clients", "A project's clients, a page at a time, and the form of a new one with every setting the core knows.");
  const form = page.getByRole("region", { name: "New client" });
  await form.getByLabel("Id (required)", { exact: true }).fill("newsletter");
  await form.getByLabel("Display name", { exact: true }).fill("Newsletter service");
  await form.getByLabel("Type", { exact: true }).selectOption({ label: "Confidential" });
  await form.getByLabel("Redirect URIs", { exact: true }).fill("https://news.acme.example/callback");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.getByRole("heading", { level: 1, name: "Client newsletter" }).waitFor();
  await album.take(page, "client", "A client and its secret", "A new client's secret, shown once with a button to copy it; below, its settings, roles, rotation and deletion.");
  await page.getByRole("button", { name: "I have stored it" }).click();

  await go(page, "Users", "Users");
  await album.take(page, "users", "Users", "A project's users, a page at a time, found by the beginning of an id or email address, and the form of a new one.");
  await open(page, "alice", "User alice");
  await album.take(page, "user", "A user", "A user's profile, sign-in, password, roles, remembered consents, sessions and second factors.");
  await go(page, "Roles and permissions", "Roles and permissions");
  await album.take(page, "roles", "Roles and permissions", "A project's permissions and the roles that hold them.");
  await go(page, "Resources", "Resources");
  await album.take(page, "resources", "Resources", "The APIs a project's clients ask tokens for by URI (RFC 8707), the scopes a token for each may carry, and the form of a new one.");
  await go(page, "Signing keys", "Signing keys");
  await album.take(page, "keys", "Signing keys", "The keys that sign the project's tokens and those that still verify them, and their rotation.");
  await go(page, "Audit trail", "Audit trail of shop");
  await album.take(page, "audit", "Audit trail", "What was done in the project, by whom and from where, newest first, filtered, and followed live.");

  await page.setViewportSize(NARROW);
  await album.take(page, "audit-narrow", "The audit trail on a phone", "At 390 pixels wide each event is a block of labelled lines; nothing scrolls sideways.", { fullPage: false, from: "table.events" });
  await go(page, "Dashboard", "Dashboard");
  await album.take(page, "dashboard-narrow", "On a phone", "At 390 pixels wide the navigation goes above the screen and nothing scrolls sideways.", { fullPage: false });
  await page.setViewportSize(VIEWPORT);
}

function tourPage(pictures: Picture[]): string {
  const sections = pictures.map((p) => `## ${p.title}\n\n![${p.title}](console/${p.file})\n\n${p.says}\n`);
  return `# The console's tour

The administration console, served by the gateway at \`/admin\` and signed in to through iam-core itself (see [the console's client](administration.md#the-consoles-client)), screen by screen. The pictures show a small tenant, the web shop of the organization Acme with its clients, roles and people, as a global administrator sees it in a window of 1280 by 800 pixels, in light colours unless said otherwise.

They are made by \`scripts/console-tour.ts\` (\`npm run docs:console-tour\`), never by hand: it starts iam-core on a throwaway database with its clock held still, makes the tenant (\`scripts/console-tour-seed.ts\`), signs in through iam-core's own pages and visits each screen, checking it with axe-core, and writes nothing if any screen has a serious or critical violation. Run it again when the console changes: a picture changes only when its screen did.

${sections.join("\n")}`;
}

async function main(): Promise<void> {
  const clock = new TourClock(NOW);
  const server = await startServer(clock);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--font-render-hinting=none", "--force-color-profile=srgb", "--disable-partial-raster", "--disable-skia-runtime-opts", "--run-all-compositor-stages-before-draw", "--disable-threaded-scrolling", "--disable-threaded-animation"],
    // Every request goes to the tour's server, localhost:8080 included (Playwright proxies loopback too).
    proxy: { server: server.origin },
  });
  try {
    await seedTenant(server.transport, clock, { adminClientSecret: ADMIN_CLIENT_SECRET, gateway: server.origin });
    clock.set(NOW);
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: "light", locale: "en-US", timezoneId: "UTC", deviceScaleFactor: 1, reducedMotion: "reduce" });
    context.setDefaultTimeout(20_000);
    await context.clock.setFixedTime(new Date(NOW));
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (m) => void (m.type() === "error" && problems.push(`console error: ${m.text()}`)));
    const album = new Album();
    await visit(page, album);
    const found = [...problems, ...album.violations];
    if (found.length > 0) throw new Error(`the tour found problems; nothing was written:\n${found.join("\n")}`);
    mkdirSync(PICTURES, { recursive: true });
    for (const name of readdirSync(PICTURES)) if (name.endsWith(".png")) rmSync(join(PICTURES, name));
    for (const picture of album.pictures) writeFileSync(join(PICTURES, picture.file), picture.png);
    writeFileSync(TOUR_PAGE, tourPage(album.pictures));
    console.log(`console tour: ${album.pictures.length} pictures in docs/console/, listed in docs/console-tour.md`);
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
