import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { isSignedIn, setSignedIn } from '../../api/session';
import { client } from '../../client/client.gen';
import { SignInPage } from './SignInPage';

let requests: Request[] = [];

function renderWith(response: () => Response) {
  configureClient();
  requests = [];
  const fetchMock = async (request: Request) => {
    requests.push(request);
    return response();
  };
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  render(
    <QueryClientProvider client={new QueryClient()}>
      <SignInPage />
    </QueryClientProvider>,
  );
}

async function signIn(password: string) {
  await userEvent.type(screen.getByLabelText('Email'), 'me@example.com');
  await userEvent.type(screen.getByLabelText('Password'), password);
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('SignInPage', () => {
  it('says plainly that the email or password is wrong', async () => {
    renderWith(() => json({ detail: 'Wrong email or password' }, 401));
    await signIn('nope-nope');
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong email or password');
  });

  it('says when sign-in is throttled and for how long', async () => {
    renderWith(() => json({ detail: 'Too many failed sign-ins; try again later' }, 429, { 'retry-after': '300' }));
    await signIn('nope-nope');
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many failed sign-ins; try again later (try again in 5 min)');
  });

  it('signs in with a session cookie and keeps no token where script can read it', async () => {
    setSignedIn(false);
    localStorage.clear();
    renderWith(() => json({ csrf_token: 'csrf-value', expires_in: 3600 }, 200));
    await signIn('right-password');
    await vi.waitFor(() => expect(isSignedIn()).toBe(true));
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(['POST /api/auth/session']);
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
    setSignedIn(false);
  });

  it('asks for the two-factor code when the API needs one, and sends it', async () => {
    setSignedIn(false);
    let n = 0;
    renderWith(() =>
      n++ === 0
        ? json({ detail: 'A two-factor code is needed (field otp)' }, 401, { 'x-storefleet-otp': 'required' })
        : json({ csrf_token: 'csrf-value', expires_in: 3600 }, 200),
    );
    await signIn('right-password');
    const field = await screen.findByLabelText('Two-factor code');
    expect(screen.getByRole('alert')).toHaveTextContent('Enter the code from your authenticator app');
    await userEvent.type(field, '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await vi.waitFor(() => expect(isSignedIn()).toBe(true));
    const sent = await requests[1].json();
    expect(sent).toEqual({ email: 'me@example.com', password: 'right-password', otp: '123456' });
    setSignedIn(false);
  });
});
