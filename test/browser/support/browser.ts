/**
 * Debian's Chromium driven by playwright-core (no browser download), the way the dashboard's
 * users meet it: a fresh profile each time, and the site's certificate trusted by its SPKI pin
 * (`--ignore-certificate-errors-spki-list`, which Chromium honours only with a user-data dir),
 * never by turning certificate checks off.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the tests leave screenshots (git-ignored): one per view, for a person to look at. */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts/browser');

export interface TrustingBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A browser that trusts exactly the certificate with this SPKI pin (base64 SHA-256). */
export async function launchBrowser(spkiPin: string, options: { downloads?: string } = {}): Promise<TrustingBrowser> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'sg-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    ...(options.downloads ? { downloadsPath: options.downloads } : {}),
    viewport: { width: 1366, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--ignore-certificate-errors-spki-list=${spkiPin}`,
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the form, as a person does. */
export async function signIn(page: Page, origin: string, username: string, password: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').waitFor();
}
