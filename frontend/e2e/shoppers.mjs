// Two shoppers of one store, each in a browser context of their own (their
// own cookies, as two people on two machines), and what the page cache must
// never mix up: each adds a different product (a different number of it) and
// fills the checkout with a different name and address; then both, an
// anonymous visitor and the signed-in store admin open the same pages one
// after the other, within the cache's few seconds. Neither shopper ever sees
// the other's cart count, name or address; the anonymous visitor sees
// neither's; only the admin sees WordPress's admin bar.
import assert from 'node:assert/strict';
import { fillCheckout, signInToStore, watchPages } from './shop.mjs';

function shopper(label, product, slug, quantity, tag) {
  const person =
    label === 'A'
      ? { first: `Ada${tag}`, last: `Lovelace${tag}`, address: `12 Engine Row ${tag}`, city: 'London', postcode: '10001' }
      : { first: `Grace${tag}`, last: `Hopper${tag}`, address: `34 Compiler Lane ${tag}`, city: 'Arlington', postcode: '22201' };
  return { label, product, slug, quantity, who: { ...person, email: `${person.first.toLowerCase()}@example.com` } };
}

/** The strings that are one shopper's own: none of them is on a page by itself. */
const secrets = (s) => [s.who.first, s.who.last, s.who.address, s.who.email];

async function newVisitor(browser, label) {
  const context = await browser.newContext();
  const pages = watchPages(context);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return { label, context, pages, page };
}

/** Puts `s.quantity` of `s.product` in the cart and fills the checkout. */
async function shop(visitor, base, s) {
  const { page } = visitor;
  await page.goto(`${base}/product/${s.slug}/`);
  await page.locator('input.qty').fill(String(s.quantity));
  await page.locator('button.single_add_to_cart_button').click();
  await page.getByText(/(has|have) been added to your cart/i).first().waitFor();
  await page.goto(`${base}/checkout/`);
  await fillCheckout(page, s.who);
  await page.locator('#billing-postcode').blur();
  // The checkout keeps what was typed in the shopper's session (the Store
  // API's update-customer); a new look at the checkout shows it filled in.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const look = await visitor.context.newPage();
    await look.goto(`${base}/checkout/`);
    // (A saved address shows as a card with its fields folded away.)
    const first = look.locator('#billing-first_name');
    await first.waitFor({ state: 'attached' });
    const value = await first.inputValue();
    await look.close();
    if (value === s.who.first) break;
    assert.ok(Date.now() < deadline, `${s.label}'s checkout keeps their name (it shows ${JSON.stringify(value)})`);
    await page.waitForTimeout(500);
  }
}

/** What one visitor sees on one page: its HTML, the mini-cart's count, the admin bar. */
async function look(visitor, url) {
  const { page } = visitor;
  // What the server sent is what matters here (the cart count, the admin bar
  // and the checkout's data are in the HTML): no need to wait for images.
  const response = await page.goto(url, { waitUntil: 'domcontentloaded' });
  assert.equal(response.status(), 200, `${visitor.label}: ${url}`);
  // The header's mini-cart: its badge shows the number of items, and is
  // hidden when the cart is empty (and on the cart and checkout pages).
  const badge = page.locator('.wc-block-mini-cart__badge').first();
  const hasMiniCart = (await page.locator('.wc-block-mini-cart').count()) > 0;
  const count = (await badge.count()) > 0 && (await badge.isVisible()) ? (await badge.innerText()).trim() : '';
  return {
    html: await page.content(),
    hasMiniCart,
    count,
    adminBar: await page.locator('#wpadminbar').isVisible(),
    cache: response.headers()['x-storefleet-cache'],
  };
}

export async function keepShoppersApart(browser, url, storePassword) {
  const base = url.replace(/\/$/, '');
  const tag = Date.now().toString(36).slice(-5);
  const a = shopper('A', 'Beanie', 'beanie', 1, tag);
  const b = shopper('B', 'Cap', 'cap', 3, tag);
  const [va, vb, anon] = await Promise.all(['A', 'B', 'anonymous'].map((l) => newVisitor(browser, l)));
  const admin = await newVisitor(browser, 'store admin');
  const started = Date.now();
  const took = [];
  const lap = (what) => took.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    await shop(va, base, a);
    lap('A shopped');
    await shop(vb, base, b);
    lap('B shopped');
    await (await signInToStore(admin.context, url, storePassword)).close();
    lap('admin signed in');

    const paths = ['/', '/shop/', `/product/${b.slug}/`, '/cart/', '/checkout/'];
    const since = new Map([va, vb, admin].map((v) => [v, v.pages.length]));
    let checked = 0;
    for (const path of paths) {
      const where = `${base}${path}`;
      // The admin first: a page made for them must never reach the others.
      const adminView = await look(admin, where);
      assert.equal(adminView.adminBar, true, `the store admin sees the admin bar on ${path}`);
      for (const [visitor, mine, theirs] of [
        [va, a, b],
        [vb, b, a],
        [anon, null, null],
      ]) {
        const view = await look(visitor, where);
        lap(`${visitor.label} ${path}`);
        checked += 1;
        assert.equal(view.adminBar, false, `${visitor.label} never sees the admin bar (${path})`);
        assert.doesNotMatch(view.html, /id="wpadminbar"/, `${visitor.label}: no admin bar in ${path}`);
        const others = visitor === anon ? [...secrets(a), ...secrets(b)] : secrets(theirs);
        for (const secret of others) {
          assert.ok(!view.html.includes(secret), `${visitor.label} sees ${JSON.stringify(secret)} on ${path}`);
        }
        const catalogue = !['/cart/', '/checkout/'].includes(path);
        if (catalogue) assert.ok(view.hasMiniCart, `a mini-cart on ${path}`);
        if (mine && (catalogue || view.count !== '')) {
          assert.equal(view.count, String(mine.quantity), `${visitor.label}'s cart count on ${path}`);
        }
        if (!mine) assert.match(view.count, /^0?$/, `the anonymous visitor's cart is empty on ${path}`);
        if (mine && path === '/cart/') {
          const items = visitor.page.locator('.wc-block-cart-items .wc-block-components-product-name');
          await items.first().waitFor();
          assert.deepEqual(await items.allInnerTexts(), [mine.product], `${visitor.label}'s cart holds only their product`);
          assert.equal(await visitor.page.locator('.wc-block-cart-items input.wc-block-components-quantity-selector__input').first().inputValue(), String(mine.quantity));
        }
        if (mine && path === '/checkout/') {
          const first = visitor.page.locator('#billing-first_name');
          await first.waitFor({ state: 'attached' });
          assert.equal(await first.inputValue(), mine.who.first, `${visitor.label}'s checkout has their own name`);
          assert.equal(await visitor.page.locator('#billing-address_1').inputValue(), mine.who.address);
        }
      }
    }
    // A shopper with a cart, or the signed-in admin, is never served from the cache.
    for (const v of [va, vb, admin]) {
      const cached = v.pages.slice(since.get(v)).filter((p) => p.cache !== 'BYPASS');
      assert.deepEqual(cached, [], `${v.label} got pages that were for the cache`);
    }
    return `${checked} (3 visitors × ${paths.length} pages, after the store admin each time); at ${took.join(', ')}`;
  } finally {
    await Promise.all([va, vb, anon, admin].map((v) => v.context.close()));
  }
}
