// The definition of done, in a real browser against the real platform (the
// set-up of `make up`): a merchant creates a store in the dashboard; a shopper
// opens it, opens a product, adds it to the cart, checks out as a guest with
// Cash on Delivery and sees the order-received page; the order is then found
// through WooCommerce's REST API as the store admin (processing), the
// merchant's "new order" email is in the dashboard, and `storefleet stores
// smoke-test` passes on the same store. The screenshots are the README's walk
// (UPDATE_DOCS_SCREENSHOTS=1 writes them to docs/images/).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, DESKTOP, launchBrowser, missingBrowser } from './browser.mjs';
import { ADMIN_EMAIL, ADMIN_PASSWORD, REPO, api, startPlatform } from './platform.mjs';
import { assertGuestOrder, buyAsGuest, orderAsAdmin } from './shop.mjs';

const skip = missingBrowser();
const STORE = `order-shop-${Date.now().toString(36).slice(-5)}`;
// A password with the characters WordPress's sign-in form used to trip on.
const STORE_PASSWORD = `Sh0p "owner's" \\pass ${Date.now().toString(36)}`;
const READY_TIMEOUT = 180_000;

async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  if (process.env.UPDATE_DOCS_SCREENSHOTS) {
    const docs = join(REPO, 'docs', 'images');
    mkdirSync(docs, { recursive: true });
    copyFileSync(path, join(docs, `${name}.png`));
  }
}

describe('a new store takes an order', { skip: skip ?? false, timeout: 600_000 }, () => {
  let platform;
  let browser;
  let token;
  let storeId;

  before(async () => {
    platform = await startPlatform();
    browser = await launchBrowser();
    token = await api(platform.baseUrl).login(ADMIN_EMAIL, ADMIN_PASSWORD);
  });

  after(async () => {
    if (storeId) {
      const client = api(platform.baseUrl);
      await client.call('DELETE', `/api/stores/${storeId}`, { token }).catch(() => {});
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const s = await client.call('GET', `/api/stores/${storeId}`, { token }).catch(() => null);
        if (!s || s.status === 'deleted') break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await browser?.close();
    await platform?.stop();
  });

  it('is created in the dashboard, sells to a guest with Cash on Delivery, and passes the smoke test', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);

    // The merchant: sign in, create a store (sample products on by default).
    await page.goto(platform.baseUrl + '/');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByRole('button', { name: 'Create store' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Create a store' });
    await dialog.getByLabel('Store name').fill(STORE);
    await dialog.getByLabel('Admin email').fill('merchant@example.com');
    await dialog.getByLabel('Admin password (optional)').fill(STORE_PASSWORD);
    assert.equal(await dialog.getByLabel('Add sample products').isChecked(), true);
    await shot(page, 'walk-1-create-store');
    await dialog.getByRole('button', { name: 'Create store' }).click();
    const row = page.locator(`tr[data-store="${STORE}"]`);
    await row.locator('[data-status="ready"]').waitFor({ timeout: READY_TIMEOUT });
    await shot(page, 'walk-2-store-ready');
    await row.getByRole('link', { name: STORE, exact: true }).click();
    await page.locator('[data-step="verify"].step-succeeded').waitFor();
    storeId = Number(new URL(page.url()).pathname.split('/').pop());
    const url = await page.getByRole('link', { name: 'Visit store' }).getAttribute('href');
    assert.ok(url, 'the store has an address');

    // The shopper (frontend/e2e/shop.mjs, shared with the Kubernetes tests):
    // the shop is the home page, not a coming-soon page; a guest buys with
    // Cash on Delivery.
    const orderId = await buyAsGuest(context, url, { storeName: STORE, shot });

    // The store admin sees it through the REST API: processing, Cash on
    // Delivery, the shopper's name.
    assertGuestOrder(await orderAsAdmin(browser, url, orderId, STORE_PASSWORD));

    // The merchant's "new order" email, in the dashboard.
    await page.reload();
    const newOrder = new RegExp(`new order: #${orderId}`, 'i');
    const item = page.locator('.mailbox .mail').filter({ has: page.locator('.mail-subject', { hasText: newOrder }) });
    await item.waitFor({ timeout: 30_000 });
    await item.locator('summary').click();
    const body = item.locator('.mail-text');
    await body.waitFor();
    assert.match(await body.innerText(), /Beanie/);
    await item.scrollIntoViewIfNeeded();
    await shot(page, 'walk-6-order-email');

    // And the CLI's smoke test passes on the same store.
    const smoke = spawnSync(join(REPO, '.venv', 'bin', 'storefleet'), ['stores', 'smoke-test', STORE], {
      env: { ...process.env, STOREFLEET_API_URL: platform.baseUrl, STOREFLEET_TOKEN: token, STOREFLEET_STORE_ADMIN_PASSWORD: STORE_PASSWORD },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(smoke.status, 0, smoke.stdout + smoke.stderr);
    assert.match(smoke.stdout, /placed and confirmed: processing, cod/);
    await context.close();
  });
});
