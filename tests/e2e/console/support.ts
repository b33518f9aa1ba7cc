/**
 * What the console's browser tests share: the real console built with Vite into a temp dir,
 * Debian's chromium driven by playwright-core (headless, no sandbox: CI runs as root), and a
 * signed-in tab that fails the test on a page error or a CSP violation, records every URL it
 * requests, and screenshots each step into test-artifacts/console/.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const repoRoot = path.resolve(__dirname, "..", "..", "..");
export const chromiumPath = "/usr/bin/chromium";
export const artifactsDir = path.join(repoRoot, "test-artifacts", "console");

/**
 * Builds console/ (its vite.config.ts) into `outDir` with the Vite CLI, as `npm run build -w console`
 * does into dist/ (the CLI, not Vite's API: vite is ESM-only, beyond the root tsconfig's resolution).
 */
export async function buildConsole(outDir: string): Promise<void> {
  const vite = path.join(repoRoot, "node_modules", "vite", "bin", "vite.js");
  await promisify(execFile)(process.execPath, [vite, "build", "--outDir", outDir, "--emptyOutDir", "--logLevel", "error"], {
    cwd: path.join(repoRoot, "console"),
  });
}

/** Debian's chromium; without it the tests fail saying what to install (never skip: CI must run them). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} not found: install Debian's chromium (apt-get install chromium; .ci/run does) to run the console's browser tests`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL this tab requested or navigated to. */
  readonly urls: string[];
  /** Page errors and CSP violations seen so far (the tests expect none). */
  readonly problems: string[];
  /** Asserts the tab's URL carries no secret, then screenshots it as test-artifacts/console/<name>.png. */
  step(name: string): Promise<void>;
  /** localStorage and sessionStorage of the console's origin, as the page sees them. */
  storage(): Promise<{ local: Record<string, string>; session: Record<string, string> }>;
}

export async function openTab(browser: Browser, baseUrl: string, secrets: () => readonly string[]): Promise<Tab> {
  mkdirSync(artifactsDir, { recursive: true });
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
  // A step that waits longer than this fails naming what it waited for (live waits pass their own).
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const urls: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => urls.push(request.url()));
  page.on("framenavigated", (frame) => urls.push(frame.url()));
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  return {
    context,
    page,
    urls,
    problems,
    async step(name) {
      const url = page.url();
      for (const secret of secrets()) if (url.includes(secret)) throw new Error(`an API key is in the URL at step ${name}: ${url}`);
      await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
    },
    storage: () =>
      page.evaluate(() => {
        // Runs in the page: the root tsconfig has no DOM types, so the storage API is typed here.
        type WebStorage = { readonly length: number; key(i: number): string | null; getItem(k: string): string | null };
        const web = globalThis as unknown as { localStorage: WebStorage; sessionStorage: WebStorage };
        const dump = (s: WebStorage) => Object.fromEntries(Array.from({ length: s.length }, (_, i) => s.key(i)!).map((k) => [k, s.getItem(k) ?? ""]));
        return { local: dump(web.localStorage), session: dump(web.sessionStorage) };
      }),
  };
}
