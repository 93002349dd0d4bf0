// A shopper's order and the store admin's look at it, in a real browser: the
// steps of order.test.mjs (the local driver) and of the Kubernetes tests
// (tests/k8s, through k8s-order.mjs), so that both prove the same thing.
// Everything goes through the browser, which resolves *.localhost to
// loopback (local stores are http://<name>.localhost:<port>/, the test
// node's http://<name>.localhost:30080/).
import assert from 'node:assert/strict';

/** The guest of the README's walk. */
export const ADA = {
  email: 'shopper@example.com',
  first: 'Ada',
  last: 'Shopper',
  address: '1 Market Street',
  city: 'San Francisco',
  postcode: '94105',
};

/**
 * Every page (main document) the context's browser received, as it saw it:
 * method, path, status and the page cache's verdict (`X-StoreFleet-Cache`:
 * HIT, MISS or BYPASS; undefined when the store does not say).
 */
export function watchPages(context) {
  const pages = [];
  context.on('response', (response) => {
    const request = response.request();
    if (request.resourceType() !== 'document' || request.frame().parentFrame()) return;
    const url = new URL(response.url());
    pages.push({
      method: request.method(),
      path: url.pathname + url.search,
      status: response.status(),
      cache: response.headers()['x-storefleet-cache'],
    });
  });
  return pages;
}

/** The block checkout's contact and billing fields, filled in as `who`. */
export async function fillCheckout(page, who) {
  await page.locator('#email').fill(who.email);
  await page.locator('#billing-first_name').fill(who.first);
  await page.locator('#billing-last_name').fill(who.last);
  await page.locator('#billing-address_1').fill(who.address);
  await page.locator('#billing-city').fill(who.city);
  await page.locator('#billing-postcode').fill(who.postcode);
}

/**
 * Opens the store twice (the catalogue page a shopper sees first, and its
 * second view), opens a product, adds it to the cart, opens the cart, checks
 * out as a guest with Cash on Delivery and waits for the order-received
 * page. Returns the order's number and the pages the browser received (see
 * watchPages). `shot(page, name)` takes the README's screenshots.
 */
export async function buyAsGuest(context, url, { storeName, product = 'Beanie', shot = async () => {} } = {}) {
  const pages = watchPages(context);
  const shop = await context.newPage();
  shop.setDefaultTimeout(30_000);
  await shop.goto(url);
  if (storeName) assert.match(await shop.title(), new RegExp(storeName));
  assert.doesNotMatch(await shop.content(), /coming soon|great things are on the horizon/i);
  // The second view, within the page cache's few seconds. When the first
  // view was a cached copy in its last moment (HIT), the second renders it
  // again (MISS); a third then comes from the cache.
  const second = await shop.goto(url);
  if (second?.headers()['x-storefleet-cache'] === 'MISS') await shop.goto(url);
  await shot(shop, 'walk-3-storefront');
  await shop.getByRole('link', { name: product, exact: true }).first().click();
  await shop.waitForURL(new RegExp(`/product/${product.toLowerCase()}/?$`));
  await shop.locator('button.single_add_to_cart_button').click();
  await shop.getByText(/has been added to your cart/i).first().waitFor();
  await shop.getByRole('link', { name: 'View cart' }).first().click();
  await shop.waitForURL(/\/cart\/?$/);
  await shop.locator('.wc-block-cart-items').getByText(product, { exact: true }).first().waitFor();
  await shop.getByRole('link', { name: 'Checkout', exact: true }).first().click();
  await shop.waitForURL(/\/checkout\/?$/);
  await fillCheckout(shop, ADA);
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
  await shop.close();
  return { orderId, pages };
}

/**
 * What the page cache must have done for the guest of buyAsGuest: the
 * catalogue page they saw first came from the cache on its second view (or
 * on its third, when the second rendered a copy that had just expired), and
 * their cart and checkout were never cached. Returns the verdicts in order,
 * e.g. "GET / MISS", for the test's log.
 */
export function assertShopperCaching(pages) {
  const lines = pages.map((p) => `${p.method} ${p.path} ${p.status} ${p.cache}`);
  const first = pages[0];
  assert.ok(first && first.method === 'GET', `the shopper's first page: ${lines.join('; ')}`);
  const views = pages.filter((p) => p.method === 'GET' && p.path === first.path);
  assert.ok(views.length >= 2, `the first page was seen twice: ${lines.join('; ')}`);
  for (const v of views) assert.notEqual(v.cache, 'BYPASS', `${first.path} is for the cache: ${lines.join('; ')}`);
  const hit = views.findIndex((v, i) => i > 0 && v.cache === 'HIT' && (i === 1 || views[i - 1].cache === 'MISS'));
  assert.ok(hit > 0, `a repeat view of ${first.path} came from the cache: ${lines.join('; ')}`);
  for (const name of ['cart', 'checkout']) {
    const seen = pages.filter((p) => new RegExp(`^/${name}/?$`).test(p.path));
    assert.ok(seen.length > 0, `the shopper opened /${name}/: ${lines.join('; ')}`);
    for (const p of seen) assert.equal(p.cache, 'BYPASS', `/${name}/ is never cached: ${lines.join('; ')}`);
  }
  return lines;
}

/** Signs in to the store's wp-admin in `context` as its admin. */
export async function signInToStore(context, url, password, { user = 'admin' } = {}) {
  const base = url.replace(/\/$/, '');
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(`${base}/wp-login.php`);
  await page.locator('#user_login').fill(user);
  await page.locator('#user_pass').fill(password);
  await page.locator('#wp-submit').click();
  await page.waitForURL(/\/wp-admin\//);
  const cookies = await context.cookies();
  assert.ok(cookies.some((c) => c.name.startsWith('wordpress_logged_in_')), 'the store admin signs in');
  return page;
}

/**
 * Signs in to wp-admin as the store admin (in a context of its own) and reads
 * the order through WooCommerce's REST API with the admin's cookie and nonce.
 */
export async function orderAsAdmin(browser, url, orderId, password, { user = 'admin' } = {}) {
  const base = url.replace(/\/$/, '');
  const context = await browser.newContext();
  try {
    const page = await signInToStore(context, url, password, { user });
    return await page.evaluate(
      async ([b, id]) => {
        const nonce = (await (await fetch(`${b}/wp-admin/admin-ajax.php?action=rest-nonce`)).text()).trim();
        const res = await fetch(`${b}/?rest_route=/wc/v3/orders/${id}`, { headers: { 'x-wp-nonce': nonce } });
        if (res.status !== 200) throw new Error(`GET order ${id}: ${res.status} ${await res.text()}`);
        return res.json();
      },
      [base, orderId],
    );
  } finally {
    await context.close();
  }
}

/** What the tests assert of the order the guest placed. */
export function assertGuestOrder(order, product = 'Beanie') {
  assert.equal(order.status, 'processing');
  assert.equal(order.payment_method, 'cod');
  assert.equal(order.billing.first_name, ADA.first);
  assert.equal(order.line_items[0].name, product);
}
