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

/** Signs in to wp-admin over HTTP and reads an order through the REST API. */
async function orderAsAdmin(url, orderId) {
  const base = url.replace(/\/$/, '');
  const login = await fetch(`${base}/wp-login.php`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'wordpress_test_cookie=WP%20Cookie%20check' },
    body: new URLSearchParams({ log: 'admin', pwd: STORE_PASSWORD, testcookie: '1' }),
  });
  const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]);
  assert.ok(cookies.some((c) => c.startsWith('wordpress_logged_in_')), `the store admin signs in (HTTP ${login.status})`);
  const cookie = cookies.join('; ');
  const nonce = (await (await fetch(`${base}/wp-admin/admin-ajax.php?action=rest-nonce`, { headers: { cookie } })).text()).trim();
  const res = await fetch(`${base}/?rest_route=/wc/v3/orders/${orderId}`, { headers: { cookie, 'x-wp-nonce': nonce } });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
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

    // The shopper: the shop is the home page, not a coming-soon page.
    const shop = await context.newPage();
    shop.setDefaultTimeout(30_000);
    await shop.goto(url);
    assert.match(await shop.title(), new RegExp(STORE));
    assert.doesNotMatch(await shop.content(), /coming soon|great things are on the horizon/i);
    await shot(shop, 'walk-3-storefront');
    await shop.getByRole('link', { name: 'Beanie', exact: true }).first().click();
    await shop.waitForURL(/\/product\/beanie\/?$/);
    await shop.locator('button.single_add_to_cart_button').click();
    await shop.getByText(/has been added to your cart/i).first().waitFor();
    await shop.getByRole('link', { name: 'Checkout', exact: true }).first().click();
    await shop.waitForURL(/\/checkout\/?$/);
    await shop.locator('#email').fill('shopper@example.com');
    await shop.locator('#billing-first_name').fill('Ada');
    await shop.locator('#billing-last_name').fill('Shopper');
    await shop.locator('#billing-address_1').fill('1 Market Street');
    await shop.locator('#billing-city').fill('San Francisco');
    await shop.locator('#billing-postcode').fill('94105');
    const cod = shop.locator('#radio-control-wc-payment-method-options-cod');
    await cod.waitFor();
    assert.equal(await cod.isChecked(), true, 'Cash on Delivery is the payment method');
    await shot(shop, 'walk-4-checkout');
    await shop.getByRole('button', { name: 'Place Order' }).click();
    await shop.waitForURL(/order-received/, { timeout: 60_000 });
    await shop.getByText('Thank you. Your order has been received.').first().waitFor();
    await shot(shop, 'walk-5-order-received');
    const orderId = Number(new URL(shop.url()).pathname.match(/order-received\/(\d+)/)[1]);
    assert.ok(orderId > 0, `an order number in ${shop.url()}`);

    // The store admin sees it: processing, Cash on Delivery, the shopper's name.
    const order = await orderAsAdmin(url, orderId);
    assert.equal(order.status, 'processing');
    assert.equal(order.payment_method, 'cod');
    assert.equal(order.billing.first_name, 'Ada');
    assert.equal(order.line_items[0].name, 'Beanie');

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
