// Debian's Chromium driven by playwright-core: nothing is downloaded. Without
// a browser the suite is skipped loudly, except under CI=true where it fails.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { FRONTEND } from './platform.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(FRONTEND, 'test-artifacts');
export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** Why the browser suite cannot run, or null when it can. Throws under CI. */
export function missingBrowser() {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`e2e: ${why}; CI=true, so this fails instead of skipping`);
  console.error(`\n*** e2e SKIPPED: ${why} ***\n`);
  return why;
}

export async function launchBrowser() {
  // playwright gives every launch a fresh temporary --user-data-dir.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves the page at desktop width and at phone width. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage });
  if (size) await page.setViewportSize(size);
}
