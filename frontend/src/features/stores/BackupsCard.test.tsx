import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { BackupOut, StoreDetail } from '../../client';
import { BackupsCard } from './BackupsCard';

const store: StoreDetail = {
  id: 7, name: 'kept-shop', status: 'ready', url: 'http://kept-shop.localhost:8080/', admin_url: null, plan: 'small',
  admin_email: 'me@example.com', owner_id: 1, owner_email: 'me@example.com', driver: 'local',
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:05Z', ready_at: '2026-01-01T00:00:40Z',
  deleted_at: null, failure_reason: null, current_step: null, current_operation: null,
  progress: { done: 7, total: 7 }, uid: 'b1b2c3d4e5f6', sample_products: true, wordpress_version: '7.0.4',
  woocommerce_version: '11.0.1', steps: [], backup_schedule_hours: 24, backup_schedule_is_default: true,
};

const completed: BackupOut = {
  id: 3, store_id: 7, kind: 'manual', status: 'completed', requested_by: 'me@example.com', target: 'dir',
  size_bytes: 5 << 20, sha256: 'ab'.repeat(32), wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
  manifest: null, failure_reason: null, created_at: '2026-01-02T00:00:00Z', completed_at: '2026-01-02T00:00:09Z',
  expires_at: null, expired_at: null,
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

let calls: { method: string; path: string; body: string }[];

function renderCard(backups: BackupOut[]) {
  calls = [];
  const fetchMock = vi.fn(async (request: Request) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    calls.push({ method: request.method, path, body: request.method === 'POST' ? await request.text() : '' });
    if (request.method === 'POST' && path === '/api/stores/7/backups')
      return json({ ...completed, id: 4, status: 'pending', size_bytes: null }, 202);
    if (request.method === 'POST' && path === '/api/stores/7/restore')
      return json({ id: 9, kind: 'restore', status: 'pending', steps: [] }, 202);
    if (path === '/api/stores/7/backups') return json({ items: backups, total: backups.length });
    return json({ detail: 'Not found' }, 404);
  });
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <BackupsCard store={store} />
    </QueryClientProvider>,
  );
}

describe('BackupsCard', () => {
  beforeEach(() => configureClient());

  it('lists backups and takes one', async () => {
    renderCard([completed]);
    const table = await screen.findByRole('table', { name: /backups/i });
    expect(within(table).getByText('5.0 MiB')).toBeInTheDocument();
    expect(within(table).getByText('WP 7.0.4, WC 11.0.1')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Take backup' }));
    await waitFor(() => expect(calls).toContainEqual({ method: 'POST', path: '/api/stores/7/backups', body: '' }));
  });

  it('restores only after the confirmation, naming what is lost', async () => {
    renderCard([completed]);
    await userEvent.click(await screen.findByRole('button', { name: 'Restore backup 3' }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByText(/Orders and changes made since then are lost/)).toBeInTheDocument();
    expect(calls.some((c) => c.path.endsWith('/restore'))).toBe(false);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Restore' }));
    await waitFor(() =>
      expect(calls).toContainEqual({ method: 'POST', path: '/api/stores/7/restore', body: '{"backup_id":3}' }),
    );
  });

  it('says why a backup failed', async () => {
    renderCard([{ ...completed, id: 5, status: 'failed', size_bytes: null, failure_reason: 'step files: disk full' }]);
    expect(await screen.findByText('step files: disk full')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Restore backup/ })).toBeNull();
  });
});
