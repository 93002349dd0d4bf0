// A shopper's order in a store of the Kubernetes tests (tests/k8s), or at a
// store's custom domain (tests/domains.py: the name mapped by
// STOREFLEET_HOST_RESOLVER_RULES, the test ACME server's root trusted through
// the NSS database in $HOME), in Debian's Chromium:
// `node frontend/e2e/k8s-order.mjs <store URL> <store name>`
// with the store admin's password in STOREFLEET_STORE_ADMIN_PASSWORD (never
// in argv). Prints one JSON line: the order as the admin reads it through
// WooCommerce's REST API, and the page cache's verdict on each page the
// shopper received (`pages`: "GET / 200 HIT", …). Exit 0 only when the order
// is there, processing, Cash on Delivery, and the page cache did for the
// shopper what it does for the local driver's (assertShopperCaching: the
// catalogue page seen first a HIT on its second view, cart and checkout
// BYPASS), as Chromium received them through the ingress.
import { ARTIFACTS, DESKTOP, launchBrowser, missingBrowser } from './browser.mjs';
import { assertGuestOrder, assertShopperCaching, buyAsGuest, orderAsAdmin } from './shop.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, storeName] = process.argv.slice(2);
const password = process.env.STOREFLEET_STORE_ADMIN_PASSWORD;
if (!url || !password) {
  console.error('usage: STOREFLEET_STORE_ADMIN_PASSWORD=... node k8s-order.mjs <url> [store name]');
  process.exit(2);
}
const why = missingBrowser();
if (why) {
  console.error(why);
  process.exit(3);
}
const browser = await launchBrowser();
let code = 1;
try {
  const context = await browser.newContext({ viewport: DESKTOP });
  const shot = async (page, name) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `k8s-${storeName ?? 'store'}-${name}.png`) });
  };
  const { orderId, pages } = await buyAsGuest(context, url, { storeName, shot });
  const order = await orderAsAdmin(browser, url, orderId, password);
  assertGuestOrder(order);
  assertShopperCaching(pages);
  console.log(
    JSON.stringify({
      id: order.id,
      status: order.status,
      payment_method: order.payment_method,
      product: order.line_items[0].name,
      pages: pages.map((p) => `${p.method} ${p.path} ${p.status} ${p.cache ?? '-'}`),
    }),
  );
  code = 0;
} catch (err) {
  console.error(err.stack ?? String(err));
} finally {
  await browser.close();
}
process.exit(code);
