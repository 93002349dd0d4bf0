// The definition of done, in a real browser against the real platform (the
// set-up of `make up`, its stores behind the platform's nginx on a port of
// their own):
//  1. a merchant creates a store in the dashboard, choosing its plan; the
//     dashboard shows it at http://<name>.localhost:<port>/; a shopper opens
//     it (the catalogue page's second view comes from the page cache), opens
//     a product, adds it to the cart, opens the cart, checks out as a guest
//     with Cash on Delivery (cart and checkout bypass the cache) and sees the
//     order-received page; the order is then found through WooCommerce's
//     REST API as the store admin (processing), the merchant's "new order"
//     email is in the dashboard, the checkout is in the store's access log
//     (its Logs card), and `storefleet stores smoke-test` passes;
//  2. two shoppers in two browser contexts never see each other's cart,
//     name or address, an anonymous one sees neither, and only the signed-in
//     store admin sees WordPress's admin bar;
//  3. the merchant gives the store another plan on its page: the resize
//     runs to success, the page shows the new plan, and the store's php-fpm
//     pool has the new plan's size.
// The screenshots are the README's walk (UPDATE_DOCS_SCREENSHOTS=1 writes
// them to docs/images/).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, DESKTOP, launchBrowser, missingBrowser } from './browser.mjs';
import { ADMIN_EMAIL, ADMIN_PASSWORD, REPO, api, startPlatform } from './platform.mjs';
import { assertGuestOrder, assertShopperCaching, buyAsGuest, orderAsAdmin } from './shop.mjs';
import { keepShoppersApart } from './shoppers.mjs';

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

describe('a new store sells, keeps its shoppers apart, and changes plan', { skip: skip ?? false, timeout: 900_000 }, () => {
  let platform;
  let browser;
  let token;
  let store; // { id, uid, url } once the first test has made it

  before(async () => {
    // The README's screenshots show make up's address when 8080 is free.
    platform = await startPlatform(process.env.UPDATE_DOCS_SCREENSHOTS ? { preferredStoresPort: 8080 } : {});
    browser = await launchBrowser();
    token = await api(platform.baseUrl).login(ADMIN_EMAIL, ADMIN_PASSWORD);
  });

  after(async () => {
    if (store) {
      const client = api(platform.baseUrl);
      await client.call('DELETE', `/api/stores/${store.id}`, { token }).catch(() => {});
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const s = await client.call('GET', `/api/stores/${store.id}`, { token }).catch(() => null);
        if (!s || s.status === 'deleted') break;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    await browser?.close();
    await platform?.stop();
  });

  async function dashboard() {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(platform.baseUrl + '/');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return { context, page };
  }

  it('is created in the dashboard at its name, sells to a guest from the page cache, and passes the smoke test', async (t) => {
    const { context, page } = await dashboard();
    const storeUrl = platform.storeUrl(STORE);

    // The merchant creates a store: sample products on, the default plan
    // chosen, the plans in words.
    await page.getByRole('button', { name: 'Create store' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Create a store' });
    await dialog.getByLabel('Store name').fill(STORE);
    await dialog.getByLabel('Admin email').fill('merchant@example.com');
    await dialog.getByLabel('Admin password (optional)').fill(STORE_PASSWORD);
    assert.equal(await dialog.getByLabel('Add sample products').isChecked(), true);
    const plans = dialog.getByRole('group', { name: 'Plan' });
    const small = plans.getByRole('radio', { name: /^small \(default\): 512 MiB of memory, 1 CPU, \d+ PHP workers$/ });
    assert.equal(await small.isChecked(), true, 'the default plan is chosen');
    assert.equal(await plans.getByRole('radio').count(), 3, 'an admin may pick small, medium and large');
    await shot(page, 'walk-1-create-store');
    await dialog.getByRole('button', { name: 'Create store' }).click();

    // Ready, at its name, on the plan chosen.
    const row = page.locator(`tr[data-store="${STORE}"]`);
    await row.locator('[data-status="ready"]').waitFor({ timeout: READY_TIMEOUT });
    const address = row.locator('td[data-label="Address"] a');
    assert.equal(await address.getAttribute('href'), storeUrl);
    assert.equal(await address.innerText(), storeUrl.replace(/^http:\/\//, ''));
    assert.equal((await row.locator('td[data-label="Plan"]').innerText()).trim(), 'small');
    await shot(page, 'walk-2-store-ready');
    await row.getByRole('link', { name: STORE, exact: true }).click();
    await page.locator('[data-step="verify"].step-succeeded').waitFor();
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    assert.equal(await page.getByRole('link', { name: 'Visit store' }).getAttribute('href'), storeUrl);
    assert.equal(await page.getByTestId('store-address').getAttribute('href'), storeUrl);
    const detail = await api(platform.baseUrl).call('GET', `/api/stores/${id}`, { token });
    assert.equal(detail.url, storeUrl);
    assert.equal(detail.plan, 'small');
    store = { id, uid: detail.uid, url: storeUrl };

    // The shopper (frontend/e2e/shop.mjs, shared with the Kubernetes tests):
    // the shop is the home page, not a coming-soon page, and its second view
    // comes from the page cache; cart and checkout never do; a guest buys
    // with Cash on Delivery.
    const { orderId, pages } = await buyAsGuest(context, storeUrl, { storeName: STORE, shot });
    t.diagnostic(`pages the shopper received: ${assertShopperCaching(pages).join('; ')}`);

    // The store admin sees it through the REST API: processing, Cash on
    // Delivery, the shopper's name.
    assertGuestOrder(await orderAsAdmin(browser, storeUrl, orderId, STORE_PASSWORD));

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

    // The store's own access log, in its Logs card: the shopper's checkout
    // (the path asked for, never its query string).
    await page.getByRole('tab', { name: 'Access log' }).click();
    await page.getByRole('searchbox', { name: 'Search the log' }).fill('/checkout/');
    await page.getByRole('button', { name: 'Search' }).click();
    const visit = page.getByRole('list', { name: 'Access log, newest first' }).locator('pre', { hasText: '"GET /checkout/"' });
    await visit.first().waitFor({ timeout: 30_000 });

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

  it('keeps two shoppers apart, and shows the admin bar only to the signed-in store admin', async (t) => {
    assert.ok(store, 'needs the store of the first test');
    const seen = await keepShoppersApart(browser, store.url, STORE_PASSWORD);
    t.diagnostic(`pages checked: ${seen}`);
  });

  it('changes plan from the dashboard: the resize runs to success and the php-fpm pool follows', async () => {
    assert.ok(store, 'needs the store of the first test');
    const pool = join(platform.sitesDir, 'stores', store.uid, 'php-fpm.conf');
    const client = api(platform.baseUrl);
    const [small, medium] = ['small', 'medium'];
    const plans = Object.fromEntries((await client.call('GET', '/api/fleet/plans', { token })).map((p) => [p.name, p]));
    const workers = (text) => Number(text.match(/^pm\.max_children = (\d+)$/m)?.[1]);
    const memoryLimit = (text) => text.match(/^php_admin_value\[memory_limit\] = (\S+)$/m)?.[1];
    assert.equal(workers(readFileSync(pool, 'utf8')), plans[small].php_workers);

    const { context, page } = await dashboard();
    await page.goto(`${platform.baseUrl}/stores/${store.id}`);
    const card = page.getByTestId('plan-card');
    await card.locator(`[data-plan="${small}"]`).waitFor();
    await card.getByLabel('New plan').selectOption(medium);
    await card.getByRole('button', { name: 'Change plan' }).click();
    // The resize runs as an operation (the store's plan is the new one from
    // its first step on), and the page follows it to the end.
    await card.locator(`[data-plan="${medium}"]`).waitFor({ timeout: 60_000 });
    await page.getByRole('heading', { name: 'Resize in progress' }).waitFor({ state: 'detached', timeout: 180_000 });
    assert.equal(await card.getByRole('alert').count(), 0, 'no error under the control');
    assert.match(await card.getByTestId('current-plan').innerText(), /^medium: 1 GiB of memory, 2 CPUs, \d+ PHP workers$/);
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'walk-7-plan-changed');

    // The side effects: the API's plan, the operation's record, the pool.
    const detail = await client.call('GET', `/api/stores/${store.id}`, { token });
    assert.equal(detail.plan, medium);
    assert.equal(detail.status, 'ready');
    assert.equal(detail.current_operation, null);
    const [resize] = await client.call('GET', `/api/stores/${store.id}/operations?limit=1`, { token });
    assert.equal(resize.kind, 'resize');
    assert.equal(resize.status, 'succeeded');
    const text = readFileSync(pool, 'utf8');
    assert.equal(workers(text), plans[medium].php_workers);
    assert.equal(memoryLimit(text), `${plans[medium].php_memory_mib}M`);
    // The store still sells: its page answers.
    const shopper = await context.newPage();
    assert.equal((await shopper.goto(store.url)).status(), 200);

    // The list shows the new plan.
    await page.goto(platform.baseUrl + '/');
    const row = page.locator(`tr[data-store="${STORE}"]`);
    assert.equal((await row.locator('td[data-label="Plan"]').innerText()).trim(), medium);
    await context.close();
  });
});
