import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { getToken, setToken } from '../../api/session';
import { client } from '../../client/client.gen';
import { SignInPage } from './SignInPage';

function renderWith(response: () => Response) {
  configureClient();
  client.setConfig({ baseUrl: 'http://localhost', fetch: (async () => response()) as unknown as typeof fetch });
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

  it('keeps the token when the credentials are right', async () => {
    setToken(null);
    renderWith(() => json({ access_token: 'a.b.c', token_type: 'bearer', expires_in: 3600 }, 200));
    await signIn('right-password');
    await vi.waitFor(() => expect(getToken()).toBe('a.b.c'));
    setToken(null);
  });
});
