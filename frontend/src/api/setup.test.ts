import { afterEach, describe, expect, it } from 'vitest';
import { createStore, listStores, login } from '../client';
import { client } from '../client/client.gen';
import { csrfToken, isSignedIn, setSignedIn } from './session';
import { configureClient } from './setup';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function capture(status = 200, body: unknown = {}) {
  const seen: Request[] = [];
  configureClient();
  const fetchMock = async (request: Request) => {
    seen.push(request);
    return json(body, status);
  };
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  return seen;
}

afterEach(() => {
  document.cookie = 'sf_csrf=; max-age=0; path=/';
  setSignedIn(false);
});

describe('the API client', () => {
  it('sends the CSRF token with requests that change something, and never a bearer token', async () => {
    document.cookie = 'sf_csrf=the-csrf-token; path=/';
    expect(csrfToken()).toBe('the-csrf-token');
    const seen = capture();
    await listStores();
    await createStore({ body: { name: 'a-shop', admin_email: 'a@example.com' } });
    expect(seen.map((r) => [r.method, r.headers.get('x-csrf-token')])).toEqual([
      ['GET', null],
      ['POST', 'the-csrf-token'],
    ]);
    expect(seen.every((r) => !r.headers.has('authorization'))).toBe(true);
    expect(seen.every((r) => r.credentials === 'same-origin')).toBe(true);
  });

  it('ends the session on a 401 while signed in, but not for a wrong password', async () => {
    capture(401, { detail: 'Incorrect email or password' });
    await expect(login({ body: { email: 'a@example.com', password: 'x' } })).rejects.toMatchObject({ status: 401 });
    expect(isSignedIn()).toBe(false);
    setSignedIn(true);
    await expect(listStores()).rejects.toMatchObject({ status: 401 });
    expect(isSignedIn()).toBe(false);
  });
});
