import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { DomainOut, StoreDetail } from '../../client';
import { StoreDetailPage } from './StoreDetailPage';
import { PLANS } from '../../test/fixtures';

const store: StoreDetail = {
  id: 7, name: 'dom-shop', status: 'ready', url: 'http://dom-shop.localhost:8080/',
  admin_url: 'http://dom-shop.localhost:8080/wp-admin/', admin_email: 'me@example.com', owner_id: 2,
  owner_email: 'member@example.com', driver: 'local', created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:05Z', ready_at: '2026-01-01T00:00:09Z', deleted_at: null, failure_reason: null,
  current_step: null, current_operation: null, progress: { done: 8, total: 8 }, uid: 'd1b2c3d4e5f6',
  sample_products: true, plan: 'small', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
  backup_schedule_hours: 24, backup_schedule_is_default: true, steps: [],
};

const pending: DomainOut = {
  domain: 'shop.example.com', status: 'pending', primary: true,
  verification: { type: 'dns-txt', name: '_storefleet-challenge.shop.example.com', value: 'sf-token-123' },
  failure_reason: 'no TXT record _storefleet-challenge.shop.example.com yet', url: null,
  created_at: '2026-01-02T00:00:00Z', verified_at: null, issued_at: null, expires_at: null,
};
const active: DomainOut = {
  ...pending, status: 'active', failure_reason: null, url: 'https://shop.example.com/',
  verified_at: '2026-01-02T00:01:00Z', issued_at: '2026-01-02T00:01:10Z', expires_at: '2026-04-02T00:01:10Z',
};
const failed: DomainOut = {
  ...pending, domain: 'broken.example.com', primary: false, status: 'failed',
  verification: { type: 'dns-txt', name: '_storefleet-challenge.broken.example.com', value: 'sf-token-456' },
  failure_reason: 'the ACME server could not validate the domain: http-01: connection refused',
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

type Answer = { status: number; body: unknown };
let posted: unknown[];
let deleted: string[];

/** The store's page against a fake API: GETs of its domains return `lists`
 * one by one (the last from then on); POST answers `post`. */
function renderPage(lists: DomainOut[][], post: Answer = { status: 201, body: pending }) {
  posted = [];
  deleted = [];
  const queue = [...lists];
  const fetchMock = vi.fn(async (request: Request) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    if (path === '/api/fleet/plans') return json(PLANS);
    if (path === `/api/stores/${store.id}/domains`) {
      if (request.method === 'POST') {
        posted.push(await request.json());
        return json(post.body, post.status);
      }
      return json(queue.length > 1 ? queue.shift() : queue[0]);
    }
    if (request.method === 'DELETE' && path.startsWith(`/api/stores/${store.id}/domains/`)) {
      deleted.push(decodeURIComponent(path.split('/').pop() ?? ''));
      return json({ ...failed, status: 'removed' }, 202);
    }
    if (path === `/api/stores/${store.id}`) return json(store);
    if (path.endsWith('/events')) return json([]);
    if (path.endsWith('/backups')) return json({ items: [], total: 0 });
    if (path.endsWith('/mail')) return json({ delivery: 'mailbox', items: [] });
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

const card = async () => within(await screen.findByTestId('domains-card'));

describe('the store page: its custom domains', () => {
  beforeEach(() => configureClient());

  it('adds a domain, shows the TXT record to put in DNS, and follows it until it is served', async () => {
    renderPage([[], [pending], [pending], [active]]);
    const domains = await card();
    expect(domains.getByText(/The store answers at/)).toHaveTextContent('http://dom-shop.localhost:8080/');
    const field = domains.getByLabelText('Domain');
    const add = domains.getByRole('button', { name: 'Add domain' });
    expect(add).toBeDisabled();
    await userEvent.type(field, 'shop.example.com');
    await userEvent.click(add);
    await waitFor(() => expect(posted).toEqual([{ domain: 'shop.example.com', primary: true }]));
    expect(field).toHaveValue('');

    const row = within(await domains.findByTestId('domain'));
    expect(row.getByText('waiting for its TXT record')).toBeInTheDocument();
    expect(row.getByText('_storefleet-challenge.shop.example.com')).toBeInTheDocument();
    expect(row.getByText('sf-token-123')).toBeInTheDocument();
    expect(row.getByRole('button', { name: 'Copy value' })).toBeInTheDocument();
    expect(row.getByTestId('domain-reason')).toHaveTextContent('no TXT record');

    // The proof is seen and the certificate obtained: the list polls while it moves.
    await waitFor(() => expect(domains.getByTestId('domain')).toHaveAttribute('data-status', 'active'), {
      timeout: 10_000,
    });
    const served = within(domains.getByTestId('domain'));
    expect(served.getByRole('link', { name: 'https://shop.example.com/' })).toBeInTheDocument();
    expect(served.getByText(/Certificate valid until 2026-04-02/)).toBeInTheDocument();
    expect(served.queryByText('sf-token-123')).toBeNull();
  }, 15_000);

  it('shows why a domain failed, and removes it', async () => {
    renderPage([[active, failed], [active]]);
    const domains = await card();
    const rows = await domains.findAllByTestId('domain');
    expect(rows).toHaveLength(2);
    const broken = within(rows[1]);
    expect(broken.getByText('failed')).toBeInTheDocument();
    expect(broken.getByTestId('domain-reason')).toHaveTextContent('could not validate the domain: http-01: connection refused');
    await userEvent.click(broken.getByRole('button', { name: 'Remove broken.example.com' }));
    await waitFor(() => expect(deleted).toEqual(['broken.example.com']));
    await waitFor(() => expect(domains.getAllByTestId('domain')).toHaveLength(1));
  });

  it.each([
    [409, 'The domain shop.example.com is taken by another store'],
    [422, "domain: invalid domain 'localhost': must be a fully qualified domain name"],
  ])('puts a %i under the field', async (status, detail) => {
    renderPage([[]], { status, body: { detail } });
    const domains = await card();
    const field = domains.getByLabelText('Domain');
    await userEvent.type(field, 'shop.example.com');
    await userEvent.click(domains.getByLabelText("The store's address"));
    await userEvent.click(domains.getByRole('button', { name: 'Add domain' }));
    const alert = await domains.findByRole('alert');
    expect(alert).toHaveTextContent(detail);
    expect(field).toHaveAccessibleDescription(detail);
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(posted).toEqual([{ domain: 'shop.example.com', primary: false }]);
    // Typing again clears it.
    await userEvent.type(field, 'x');
    expect(domains.queryByRole('alert')).toBeNull();
  });
});
