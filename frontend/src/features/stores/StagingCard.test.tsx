import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { StoreDetail, StoreOut } from '../../client';
import { StagingCard } from './StagingCard';

const live: StoreDetail = {
  id: 5, name: 'shop', status: 'ready', url: 'http://shop.localhost:8080/',
  admin_url: 'http://shop.localhost:8080/wp-admin/', admin_email: 'me@example.com', owner_id: 2,
  owner_email: 'member@example.com', driver: 'local', created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:05Z', ready_at: '2026-01-01T00:00:09Z', deleted_at: null, failure_reason: null,
  current_step: null, current_operation: null, progress: { done: 8, total: 8 }, uid: 'c1b2c3d4e5f6',
  sample_products: true, plan: 'small', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
  backup_schedule_hours: 24, backup_schedule_is_default: true, steps: [], staging_of_id: null, expires_at: null,
};

const copy: StoreOut = {
  ...live, id: 9, name: 'shop-staging', url: 'http://shop-staging.localhost:8080/', uid: 'd1b2c3d4e5f6',
  staging_of_id: 5, expires_at: '2026-01-15T00:00:00Z',
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function renderCard(store: StoreDetail, answers: Record<string, { status: number; body: unknown }>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (request: Request) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    const body = request.method === 'POST' ? await request.json().catch(() => null) : null;
    calls.push({ method: request.method, path, body });
    if (request.method === 'GET' && path === '/api/stores/5/staging') return json([copy]);
    const answer = answers[`${request.method} ${path}`];
    return answer ? json(answer.body, answer.status) : json({ detail: 'Not found' }, 404);
  });
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <StagingCard store={store} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return calls;
}

describe('StagingCard', () => {
  beforeEach(() => configureClient());

  it('lists the copies and pushes the one picked with what was chosen', async () => {
    const op = { id: 31, kind: 'push', status: 'pending', requested_by: 'me', params: {}, created_at: '2026-01-02T00:00:00Z',
      started_at: null, finished_at: null, duration_seconds: null, failure_reason: null, fleet_upgrade_id: null, steps: [] };
    const calls = renderCard(live, { 'POST /api/stores/9/push': { status: 202, body: op } });
    const item = await screen.findByTestId('staging-copy');
    expect(within(item).getByText('shop-staging')).toBeTruthy();
    await userEvent.selectOptions(screen.getByLabelText('Push'), 'database');
    await userEvent.click(within(item).getByRole('button', { name: 'Push to live' }));
    await screen.findByText(/Push 31 started/);
    expect(calls.find((c) => c.method === 'POST')).toEqual({ method: 'POST', path: '/api/stores/9/push', body: { what: 'database' } });
  });

  it('shows the API refusal of a refresh', async () => {
    renderCard(live, {
      'POST /api/stores/9/refresh': { status: 409, body: { detail: 'The live store is degraded: it cannot be copied now' } },
    });
    const item = await screen.findByTestId('staging-copy');
    await userEvent.click(within(item).getByRole('button', { name: 'Refresh from live' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('cannot be copied now'));
  });

  it("on a copy's page, names its live store and makes no copy of it", async () => {
    renderCard({ ...live, ...copy, steps: [], backup_schedule_hours: 24, backup_schedule_is_default: true }, {});
    expect(screen.getByText('Staging copy')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'store 5' }).getAttribute('href')).toBe('/stores/5');
    expect(screen.queryByRole('button', { name: 'Make a staging copy' })).toBeNull();
  });
});
