// API tokens and two-factor sign-in in a real browser against the real
// platform: a member creates a token (shown once), the API accepts it, the
// member revokes it and the API refuses it; the member enrols in two-factor
// sign-in from the QR page and signs in again with a code.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DESKTOP, launchBrowser, missingBrowser, screenshot } from './browser.mjs';
import { ADMIN_EMAIL, ADMIN_PASSWORD, api, startPlatform } from './platform.mjs';

const skip = missingBrowser();
const MEMBER = { email: 'integrator@example.com', password: 'integrator-password' };

/** RFC 6238 (what any authenticator app computes), for the test's "phone". */
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

describe('tokens and two-factor sign-in', { skip: skip ?? false, timeout: 300_000 }, () => {
  let platform;
  let browser;
  let client;
  const contexts = [];

  async function signIn(otp) {
    const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(platform.baseUrl + '/');
    await page.getByLabel('Email').fill(MEMBER.email);
    await page.getByLabel('Password').fill(MEMBER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    if (otp) {
      await page.getByLabel('Two-factor code').fill(otp());
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return page;
  }

  before(async () => {
    platform = await startPlatform();
    browser = await launchBrowser();
    client = api(platform.baseUrl);
    const admin = await client.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    await client.call('POST', '/api/users', { token: admin, body: MEMBER });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await platform?.stop();
  });

  it('creates a token shown once, which the API accepts until it is revoked', async () => {
    const page = await signIn();
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Name').fill('ci-job');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').innerText()).trim();
    assert.match(secret, /^sfp_/);
    await page.getByRole('table', { name: 'Tokens' }).getByText('ci-job').waitFor();
    await screenshot(page, '30-api-tokens');
    const stores = await fetch(platform.baseUrl + '/api/stores', { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(stores.status, 200);

    await page.getByRole('button', { name: 'Revoke ci-job' }).click();
    await page.getByRole('table', { name: 'Tokens' }).getByText(/^revoked/).waitFor();
    const refused = await fetch(platform.baseUrl + '/api/stores', { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(refused.status, 401);
    // Reloaded, the page lists the token but never its secret again.
    await page.reload();
    await page.getByRole('table', { name: 'Tokens' }).waitFor();
    assert.ok(!(await page.content()).includes(secret));
  });

  it('enrols with the QR page and then signs in with a code', async () => {
    const page = await signIn();
    await page.getByRole('link', { name: 'Two-factor' }).click();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const qr = page.getByRole('img', { name: 'QR code of the two-factor secret' });
    await qr.waitFor();
    assert.ok((await qr.evaluate((img) => img.naturalWidth)) > 0, 'the QR code renders');
    const secret = (await page.getByTestId('totp-secret').innerText()).trim();
    await screenshot(page, '31-two-factor-setup');
    await page.getByLabel('Code from the app').fill(totp(secret));
    await page.getByRole('button', { name: 'Confirm' }).click();
    const codes = page.getByTestId('recovery-codes');
    await codes.waitFor();
    assert.equal((await codes.locator('li').count()), 10);

    // Without the code the sign-in asks for it; with the next code it goes through.
    const again = await signIn(() => totp(secret, Date.now() + 30_000));
    await again.getByRole('link', { name: 'Two-factor' }).click();
    await again.getByText(/Two-factor sign-in is on since/).waitFor();
    await screenshot(again, '32-two-factor-on');
  });
});
