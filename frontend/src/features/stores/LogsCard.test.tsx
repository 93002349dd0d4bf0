import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { LogPage, StoreDetail } from '../../client';
import { LogsCard } from './LogsCard';

const store: StoreDetail = {
  id: 7, name: 'logged-shop', status: 'ready', url: 'http://logged-shop.localhost:8080/', admin_url: null,
  plan: 'small', admin_email: 'me@example.com', owner_id: 1, owner_email: 'me@example.com', driver: 'local',
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:05Z', ready_at: '2026-01-01T00:00:40Z',
  deleted_at: null, failure_reason: null, current_step: null, current_operation: null,
  progress: { done: 7, total: 7 }, uid: 'b1b2c3d4e5f6', sample_products: true, wordpress_version: '7.0.4',
  woocommerce_version: '11.0.1', steps: [], backup_schedule_hours: 24, backup_schedule_is_default: true,
};

const kept = 'This machine keeps each log up to 10 MiB, then one older file of that size.';
const pages: Record<string, LogPage> = {
  php: {
    source: 'php', more: false, kept,
    items: [
      { at: '2026-01-02T10:00:09Z', text: '[02-Jan-2026 10:00:09 UTC] PHP Warning:  newer, password=[redacted]' },
      {
        at: '2026-01-02T10:00:01Z',
        text: '[02-Jan-2026 10:00:01 UTC] PHP Fatal error:  Uncaught Exception: boom\nStack trace:\n#0 {main}',
      },
    ],
  },
  access: {
    source: 'access', more: true, kept,
    items: [{ at: null, text: '10.0.0.1 [2026-01-02T10:00:05+00:00] "GET /shop/" 200 9 0.01 "ua" HIT' }],
  },
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

let asked: URLSearchParams[];

function renderCard(answer?: (params: URLSearchParams) => Response) {
  asked = [];
  const fetchMock = vi.fn(async (request: Request) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname !== '/api/stores/7/logs') return json({ detail: 'Not found' }, 404);
    asked.push(url.searchParams);
    if (answer) return answer(url.searchParams);
    const page = pages[url.searchParams.get('source') ?? 'php'];
    const q = url.searchParams.get('q');
    return json(q ? { ...page, items: page.items.filter((i) => i.text.includes(q)) } : page);
  });
  client.setConfig({ baseUrl: 'http://localhost', fetch: fetchMock as unknown as typeof fetch });
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <LogsCard store={store} />
    </QueryClientProvider>,
  );
}

describe('LogsCard', () => {
  beforeEach(() => configureClient());

  it('shows the PHP errors newest first, a stack trace with its message, and what is kept', async () => {
    renderCard();
    const list = await screen.findByRole('list', { name: 'PHP errors, newest first' });
    const lines = within(list).getAllByRole('listitem');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveTextContent('newer, password=[redacted]');
    expect(lines[1].querySelector('pre')?.textContent).toContain('Uncaught Exception: boom\nStack trace:\n#0 {main}');
    expect(screen.getByText(kept)).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'PHP errors' })).toHaveAttribute('aria-selected', 'true');
    expect(asked[0].get('source')).toBe('php');
    expect(asked[0].get('limit')).toBe('200');
  });

  it('switches to the access log and searches it', async () => {
    renderCard();
    await screen.findByRole('list', { name: 'PHP errors, newest first' });
    await userEvent.click(screen.getByRole('tab', { name: 'Access log' }));
    const list = await screen.findByRole('list', { name: 'Access log, newest first' });
    expect(within(list).getByText(/GET \/shop\//)).toBeInTheDocument();
    expect(screen.getByText(/search to find older ones/)).toBeInTheDocument();
    await userEvent.type(screen.getByRole('searchbox', { name: 'Search the log' }), 'checkout');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    expect(await screen.findByText('No line holds “checkout”.')).toBeInTheDocument();
    expect(asked.at(-1)?.get('source')).toBe('access');
    expect(asked.at(-1)?.get('q')).toBe('checkout');
  });

  it('says why when no worker could read a cluster store’s logs', async () => {
    renderCard(() =>
      json({ detail: 'No worker answered within 8 s: a worker reads this store’s logs from its cluster' }, 503),
    );
    expect(await screen.findByText(/No worker answered within 8 s/)).toBeInTheDocument();
  });
});
