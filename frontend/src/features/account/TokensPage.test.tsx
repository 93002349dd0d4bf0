import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { configureClient } from '../../api/setup';
import type { Me, TokenOut } from '../../client';
import { client } from '../../client/client.gen';
import { TokensPage } from './TokensPage';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const me = { id: 1, email: 'm@example.com', role: 'member' } as Me;

function token(id: number, extra: Partial<TokenOut> = {}): TokenOut {
  return {
    id, name: `t${id}`, prefix: 'sfp_abcdef', scopes: ['read'], created_at: '2026-12-01T00:00:00Z',
    expires_at: null, last_used_at: null, revoked_at: null, ...extra,
  };
}

describe('TokensPage', () => {
  it('shows a new token once, lists tokens with their last use, and revokes one', async () => {
    configureClient();
    let tokens: TokenOut[] = [token(1, { last_used_at: '2026-12-02T10:00:00Z' })];
    const seen: string[] = [];
    client.setConfig({
      baseUrl: 'http://localhost',
      fetch: (async (request: Request) => {
        seen.push(`${request.method} ${new URL(request.url).pathname}`);
        if (request.method === 'POST') {
          const body = await request.json();
          const made = token(2, { name: body.name, scopes: body.scopes });
          tokens = [made, ...tokens];
          return json({ ...made, token: 'sfp_the-secret-shown-once' }, 201);
        }
        if (request.method === 'DELETE') {
          tokens = tokens.map((t) => (t.id === 1 ? { ...t, revoked_at: '2026-12-03T00:00:00Z' } : t));
          return json(tokens.find((t) => t.id === 1));
        }
        return json({ items: tokens });
      }) as unknown as typeof fetch,
    });
    render(
      <QueryClientProvider client={new QueryClient()}>
        <TokensPage me={me} />
      </QueryClientProvider>,
    );
    const table = await screen.findByRole('table', { name: 'Tokens' });
    expect(within(table).getByText('t1')).toBeInTheDocument();
    expect(within(table).queryByText('never')).toBeInTheDocument(); // expiry
    // Members are not offered the admin scopes.
    expect(screen.queryByLabelText(/metrics/)).not.toBeInTheDocument();

    await userEvent.type(screen.getByLabelText('Name'), 'ci');
    await userEvent.click(screen.getByRole('button', { name: 'Create token' }));
    expect(await screen.findByTestId('new-token')).toHaveTextContent('sfp_the-secret-shown-once');
    expect(await within(table).findByText('ci')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Revoke t1' }));
    expect(await within(table).findByText(/^revoked/)).toBeInTheDocument();
    expect(seen).toContain('DELETE /api/tokens/1');
  });
});
