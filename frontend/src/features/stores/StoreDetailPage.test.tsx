import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { StoreDetail } from '../../client';
import { StoreDetailPage } from './StoreDetailPage';

const failed: StoreDetail = {
  id: 4, name: 'broken-shop', status: 'failed', url: null, admin_url: null, admin_email: 'me@example.com',
  owner_id: 1, owner_email: 'me@example.com', driver: 'local', created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:05Z', ready_at: null, deleted_at: null,
  failure_reason: 'install: the stores database refused the connection; check STOREFLEET_STORES_DB_URL',
  current_step: null, progress: { done: 2, total: 8 },
  uid: 'b1b2c3d4e5f6', sample_products: true, plan: 'small', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
  backup_schedule_hours: 24, backup_schedule_is_default: true,
  steps: [
    { name: 'secrets', operation: 'provision', status: 'succeeded', attempt: 1, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:00.250Z', message: 'generated' },
    { name: 'database', operation: 'provision', status: 'failed', attempt: 2, started_at: '2026-01-01T00:00:01Z', finished_at: '2026-01-01T00:00:04Z', message: 'connection refused' },
  ],
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

let calls: { method: string; path: string }[];

function renderAt(store: StoreDetail, missing = false) {
  calls = [];
  let current = store;
  const fetchMock = vi.fn(async (request: Request) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    calls.push({ method: request.method, path });
    if (request.method === 'POST' && path === `/api/stores/${store.id}/retry`) {
      current = { ...current, status: 'provisioning', failure_reason: null, current_step: 'database' };
      return json(current, 202);
    }
    if (missing) return json({ detail: `Store ${store.id} not found` }, 404);
    if (path === `/api/stores/${store.id}/events`) return json([]);
    if (path === `/api/stores/${store.id}`) return json(current);
    return json({ detail: 'Not found' }, 404);
  });
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[`/stores/${store.id}`]}>
        <Routes>
          <Route path="/stores/:storeId" element={<StoreDetailPage />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe('StoreDetailPage', () => {
  beforeEach(() => configureClient());

  it('shows the failure reason and the step timeline, and retries', async () => {
    renderAt(failed);
    expect(await screen.findByText(/the stores database refused the connection/)).toBeInTheDocument();
    const steps = screen.getByRole('list', { name: 'Steps' });
    expect(steps).toHaveTextContent('secrets');
    expect(steps).toHaveTextContent('250 ms');
    expect(steps).toHaveTextContent('connection refused');
    expect(steps).toHaveTextContent('attempt 2');
    expect(steps).toHaveTextContent('3.0 s');
    expect(screen.queryByRole('link', { name: 'Visit store' })).toBeNull();

    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(calls).toContainEqual({ method: 'POST', path: '/api/stores/4/retry' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull());
    expect(screen.getByText('Provisioning')).toBeInTheDocument();
  });

  it('links to the store and its admin once ready, and deletes only after the name is typed', async () => {
    renderAt({ ...failed, status: 'ready', failure_reason: null, url: 'http://localhost:30001/', admin_url: 'http://localhost:30001/wp-admin/' });
    expect(await screen.findByRole('link', { name: 'Visit store' })).toHaveAttribute('href', 'http://localhost:30001/');
    expect(screen.getByRole('link', { name: 'Open admin' })).toHaveAttribute('href', 'http://localhost:30001/wp-admin/');
    await userEvent.click(screen.getByRole('button', { name: 'Delete…' }));
    const confirm = screen.getByRole('button', { name: 'Delete store' });
    expect(confirm).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/to confirm/), 'broken-sho');
    expect(confirm).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/to confirm/), 'p');
    expect(confirm).toBeEnabled();
  });

  it('says plainly when the store is not there or not yours', async () => {
    renderAt(failed, true);
    expect(await screen.findByText('This store does not exist, or it is not yours.')).toBeInTheDocument();
  });
});
