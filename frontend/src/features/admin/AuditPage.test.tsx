import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { AuditEventOut } from '../../client';
import { AuditPage } from './AuditPage';

const event = (id: number, action: string, result: 'success' | 'failure', actor: string): AuditEventOut => ({
  id, at: '2026-01-01T00:00:00Z', actor_id: null, actor_email: actor, action, result,
  target: null, detail: null, client_ip: '203.0.113.9',
});

describe('AuditPage', () => {
  it('filters by actor, action and result through the API, and shows refusals', async () => {
    configureClient();
    const queries: URLSearchParams[] = [];
    const fetchMock = async (request: Request) => {
      const query = new URL(request.url).searchParams;
      queries.push(query);
      const items = query.get('result') === 'failure'
        ? [event(2, 'auth.login_failed', 'failure', 'eve@example.com')]
        : [event(2, 'auth.login_failed', 'failure', 'eve@example.com'), event(1, 'auth.login', 'success', 'admin@example.com')];
      return new Response(JSON.stringify({ items, total: items.length }), { headers: { 'content-type': 'application/json' } });
    };
    client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
    render(
      <QueryClientProvider client={new QueryClient()}>
        <AuditPage />
      </QueryClientProvider>,
    );
    const table = await screen.findByRole('table');
    const refused = table.querySelector<HTMLElement>('tr[data-result="failure"]')!;
    expect(within(refused).getByText('Refused')).toBeInTheDocument();
    expect(within(refused).getByText('203.0.113.9')).toBeInTheDocument();
    expect(table.querySelectorAll('tbody tr')).toHaveLength(2);
    await userEvent.type(screen.getByLabelText('Actor'), ' eve ');
    await userEvent.selectOptions(screen.getByLabelText('Action'), 'auth.login_failed');
    await userEvent.selectOptions(screen.getByLabelText('Result'), 'failure');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));
    await expect.poll(() => screen.getByRole('table').querySelectorAll('tbody tr').length).toBe(1);
    const last = queries[queries.length - 1];
    expect(Object.fromEntries(last)).toEqual({ limit: '50', offset: '0', actor: 'eve', action: 'auth.login_failed', result: 'failure' });
  });
});
