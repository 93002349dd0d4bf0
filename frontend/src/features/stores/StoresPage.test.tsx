import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { Me, StoreOut } from '../../client';
import { StoresPage } from './StoresPage';

const me = {
  id: 1, email: 'm@example.com', role: 'member', live_stores: 3, effective_max_live_stores: 100,
} as Me;

const store = (n: number): StoreOut => ({
  id: n, name: `shop-${n}`, uid: `uid${n}`, status: 'ready', url: null, admin_url: null,
  admin_email: 'm@example.com', owner_id: 1, owner_email: 'm@example.com', driver: 'local',
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', ready_at: null,
  deleted_at: null, failure_reason: null, current_step: null, current_operation: null,
  progress: { done: 7, total: 7 }, sample_products: true, plan: 'small',
  wordpress_version: null, woocommerce_version: null,
});

// 51 stores: a first page of 50 with a cursor, then one.
const FIRST = Array.from({ length: 50 }, (_, i) => store(51 - i));
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

function Address() {
  const location = useLocation();
  return <output data-testid="address">{location.search}</output>;
}

function renderPage() {
  configureClient();
  const queries: Record<string, string>[] = [];
  const fetchMock = async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname !== '/api/stores') return json({ detail: 'Not found' });
    const query = Object.fromEntries(url.searchParams);
    queries.push(query);
    const prefix = query.name_prefix ?? '';
    if (prefix) return json({ items: [store(7)].filter((s) => s.name.startsWith(prefix)), total: 1, limit: 50, next_cursor: null });
    if (query.cursor === 'c-50') return json({ items: [store(1)], total: 51, limit: 50, next_cursor: null });
    return json({ items: FIRST, total: 51, limit: 50, next_cursor: 'c-50' });
  };
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={['/']}>
        <Routes>
          <Route path="/" element={<><StoresPage me={me} /><Address /></>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return queries;
}

// Each renders a table of 50 stores a few times: seconds on a busy machine.
const SLOW = { timeout: 20_000 };

describe('StoresPage', () => {
  it('pages by the cursors the API gives, and back', SLOW, async () => {
    const queries = renderPage();
    const pager = await screen.findByRole('navigation', { name: 'Stores pages' });
    expect(pager).toHaveTextContent('1–50 of 51 · page 1 of 2');
    expect(queries[0]).toEqual({ limit: '50', sort: '-created_at' });
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled();

    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await expect.poll(() => screen.queryByText('shop-51')).toBeNull();
    expect(screen.getByText('shop-1')).toBeInTheDocument();
    expect(pager).toHaveTextContent('51–51 of 51 · page 2 of 2');
    expect(queries[queries.length - 1]).toEqual({ limit: '50', sort: '-created_at', cursor: 'c-50' });
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    // The page is in the address: a reload or a shared link shows it again.
    expect(screen.getByTestId('address')).toHaveTextContent('?pages=c-50');

    await userEvent.click(screen.getByRole('button', { name: 'Previous' }));
    expect(await screen.findByText('shop-51')).toBeInTheDocument();
    expect(screen.getByTestId('address')).toBeEmptyDOMElement();
  });

  it('searches by name prefix and sorts on the server, from the first page', SLOW, async () => {
    const queries = renderPage();
    await screen.findByRole('navigation', { name: 'Stores pages' });
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await screen.findByText('shop-1');
    await userEvent.selectOptions(screen.getByLabelText('Order'), 'name');
    await expect.poll(() => queries[queries.length - 1]).toEqual({ limit: '50', sort: 'name' });
    await userEvent.type(screen.getByLabelText('Name starts with'), 'shop-7');
    await expect.poll(() => queries[queries.length - 1]).toEqual({ limit: '50', sort: 'name', name_prefix: 'shop-7' });
    expect(await screen.findByText('shop-7')).toBeInTheDocument();
    // One page: no pager.
    expect(screen.queryByRole('navigation', { name: 'Stores pages' })).toBeNull();
  });
});
