// A shopper's order and the store admin's look at it, in a real browser: the
// steps of order.test.mjs (the local driver) and of the Kubernetes tests
// (tests/k8s, through k8s-order.mjs), so that both prove the same thing.
// Everything goes through the browser, which resolves *.localhost to
// loopback (the test node's stores are http://<name>.localhost:30080/).
import assert from 'node:assert/strict';

/**
 * Opens the store, opens a product, adds it to the cart, checks out as a
 * guest with Cash on Delivery and waits for the order-received page.
 * Returns the order's number. `shot(page, name)` takes the README's screenshots.
 */
export async function buyAsGuest(context, url, { storeName, product = 'Beanie', shot = async () => {} } = {}) {
  const shop = await context.newPage();
  shop.setDefaultTimeout(30_000);
  await shop.goto(url);
  if (storeName) assert.match(await shop.title(), new RegExp(storeName));
  assert.doesNotMatch(await shop.content(), /coming soon|great things are on the horizon/i);
  await shot(shop, 'walk-3-storefront');
  await shop.getByRole('link', { name: product, exact: true }).first().click();
  await shop.waitForURL(new RegExp(`/product/${product.toLowerCase()}/?$`));
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
  await shop.close();
  return orderId;
}

/**
 * Signs in to wp-admin as the store admin (in a context of its own) and reads
 * the order through WooCommerce's REST API with the admin's cookie and nonce.
 */
export async function orderAsAdmin(browser, url, orderId, password, { user = 'admin' } = {}) {
  const base = url.replace(/\/$/, '');
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${base}/wp-login.php`);
    await page.locator('#user_login').fill(user);
    await page.locator('#user_pass').fill(password);
    await page.locator('#wp-submit').click();
    await page.waitForURL(/\/wp-admin\//);
    const cookies = await context.cookies();
    assert.ok(cookies.some((c) => c.name.startsWith('wordpress_logged_in_')), 'the store admin signs in');
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
  assert.equal(order.billing.first_name, 'Ada');
  assert.equal(order.line_items[0].name, product);
}
