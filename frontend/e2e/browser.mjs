// Debian's Chromium driven by playwright-core: nothing is downloaded. Without
// a browser the suite is skipped loudly, except under CI=true where it fails.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { FRONTEND } from './platform.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(FRONTEND, 'test-artifacts');
export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** The rule of tests/ci.py: CI=true or CI=1, in any case, makes every suite required. */
export function everySuiteRequired(env = process.env) {
  return /^(true|1)$/i.test((env.CI ?? '').trim());
}

/** Why the browser suite cannot run, or null when it can. Throws under CI. */
export function missingBrowser() {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (everySuiteRequired()) throw new Error(`e2e: ${why}; CI=true, so this fails instead of skipping`);
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
      // Names the machine's resolver does not know (a store's custom domain
      // in the tests): e.g. "MAP shop.example.test 127.0.0.1".
      ...(process.env.STOREFLEET_HOST_RESOLVER_RULES
        ? [`--host-resolver-rules=${process.env.STOREFLEET_HOST_RESOLVER_RULES}`]
        : []),
    ],
  });
}

/**
 * Saves the page at desktop width and at phone width, and fails on serious
 * accessibility problems at either width.
 */
export async function screenshot(page, name, { fullPage = true, audit = true } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const size = page.viewportSize();
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage });
  const problems = audit ? await accessibilityProblems(page) : [];
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage });
  if (audit) problems.push(...(await accessibilityProblems(page)).map((p) => `phone: ${p}`));
  if (size) await page.setViewportSize(size);
  if (problems.length) throw new Error(`accessibility problems on ${name}:\n  ${problems.join('\n  ')}`);
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Runs axe-core (WCAG 2 A and AA rules) on the page as it is and returns the
 * serious and critical violations, one line each.
 */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(', ')})`);
}
