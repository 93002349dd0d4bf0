import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configureClient } from '../../api/setup';
import { client } from '../../client/client.gen';
import type { PlanOut, StoreDetail } from '../../client';
import { StoreDetailPage } from './StoreDetailPage';
import { PLANS } from '../../test/fixtures';

const ready: StoreDetail = {
  id: 5, name: 'sized-shop', status: 'ready', url: 'http://sized-shop.localhost:8080/',
  admin_url: 'http://sized-shop.localhost:8080/wp-admin/', admin_email: 'me@example.com', owner_id: 2,
  owner_email: 'member@example.com', driver: 'local', created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:05Z', ready_at: '2026-01-01T00:00:09Z', deleted_at: null, failure_reason: null,
  current_step: null, current_operation: null, progress: { done: 8, total: 8 }, uid: 'c1b2c3d4e5f6',
  sample_products: true, plan: 'small', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
  backup_schedule_hours: 24, backup_schedule_is_default: true, steps: [],
};

const resizing: StoreDetail = {
  ...ready,
  current_operation: 'resize',
  current_step: 'serving',
  steps: [
    { name: 'limits', operation: 'resize', status: 'succeeded', attempt: 1, started_at: '2026-01-02T00:00:00Z', finished_at: '2026-01-02T00:00:00.400Z', message: 'memory 1024 MiB' },
    { name: 'serving', operation: 'resize', status: 'running', attempt: 1, started_at: '2026-01-02T00:00:01Z', finished_at: null, message: null },
  ],
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

type Answer = { status: number; body: unknown };
let patches: unknown[];

/** The store's page against a fake API: `patch` answers PATCH /api/stores/5;
 * after it, GETs of the store return `after` one by one, the last one
 * from then on (a resize that runs, then has run). */
function renderPage(store: StoreDetail, plans: PlanOut[], patch: Answer, after: StoreDetail[] = []) {
  patches = [];
  let queue = [store];
  const fetchMock = vi.fn(async (request: Request) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    if (path === '/api/fleet/plans') return json(plans);
    if (request.method === 'PATCH' && path === `/api/stores/${store.id}`) {
      patches.push(await request.json());
      if (patch.status === 202) queue = after.length ? [...after] : [patch.body as StoreDetail];
      return json(patch.body, patch.status);
    }
    if (path === `/api/stores/${store.id}`) return json(queue.length > 1 ? queue.shift() : queue[0]);
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

const card = async () => within(await screen.findByTestId('plan-card'));
const optionNames = (select: HTMLElement) => within(select).getAllByRole('option').map((o) => (o as HTMLOptionElement).value);

describe('the store page: its plan and a resize', () => {
  beforeEach(() => configureClient());

  it('shows the plan in words, lets the owner pick only their plans, and shows the resize like any operation', async () => {
    renderPage(ready, PLANS, { status: 202, body: resizing }, [resizing, { ...ready, plan: 'medium' }]);
    const plan = await card();
    await waitFor(() => expect(plan.getByTestId('current-plan')).toHaveTextContent('small: 512 MiB of memory, 1 CPU, 5 PHP workers'));
    const select = plan.getByLabelText('New plan');
    expect(optionNames(select)).toEqual(['small', 'medium']); // large: an admin's to give
    const change = plan.getByRole('button', { name: 'Change plan' });
    expect(change).toBeDisabled(); // the current plan is selected

    await userEvent.selectOptions(select, 'medium');
    expect(change).toBeEnabled();
    await userEvent.click(change);
    await waitFor(() => expect(patches).toEqual([{ plan: 'medium' }]));

    // The operation's progress, as for a backup or an upgrade.
    const callout = await screen.findByRole('heading', { name: 'Resize in progress' });
    const steps = within(callout.parentElement as HTMLElement).getByRole('list', { name: 'Steps' });
    expect(steps).toHaveTextContent('limits');
    expect(steps).toHaveTextContent('memory 1024 MiB');
    expect(steps).toHaveTextContent('serving');
    expect(plan.getByRole('status')).toHaveTextContent('Changing the plan to medium');
    expect(plan.getByRole('button', { name: 'Change plan' })).toBeDisabled();

    // The resize ends: the page shows the new plan (the list polls every 3 s here).
    await waitFor(
      () => expect(plan.getByTestId('current-plan')).toHaveTextContent('medium: 1 GiB of memory, 2 CPUs, 13 PHP workers'),
      { timeout: 8_000 },
    );
    expect(screen.queryByRole('heading', { name: 'Resize in progress' })).toBeNull();
  }, 15_000);

  it.each([
    [409, 'Another operation is in flight on this store (backup 12, running); try again when it has finished'],
    [403, "Plan 'medium' is for admins to give; members may pick small"],
    [422, "plan: no plan 'medium' (plans: small, large)"],
  ])('puts a %i next to the control', async (status, detail) => {
    renderPage(ready, PLANS, { status, body: { detail } });
    const plan = await card();
    const select = await plan.findByLabelText('New plan');
    await userEvent.selectOptions(select, 'medium');
    await userEvent.click(plan.getByRole('button', { name: 'Change plan' }));
    const alert = await plan.findByRole('alert');
    expect(alert).toHaveTextContent(detail);
    expect(select).toHaveAccessibleDescription(detail);
    expect(select).toHaveAttribute('aria-invalid', 'true');
    expect(plan.getByTestId('current-plan')).toHaveTextContent('small: 512 MiB of memory'); // still small
    expect(screen.queryByRole('heading', { name: 'Resize in progress' })).toBeNull();
    // Choosing again clears the error.
    await userEvent.selectOptions(select, 'small');
    expect(plan.queryByRole('alert')).toBeNull();
  });

  it('gives an admin every plan', async () => {
    const adminPlans = PLANS.map((p) => ({ ...p, yours_to_pick: true }));
    renderPage(ready, adminPlans, { status: 202, body: resizing });
    const select = await (await card()).findByLabelText('New plan');
    expect(optionNames(select)).toEqual(['small', 'medium', 'large']);
  });

  it('keeps showing a plan only an admin may give', async () => {
    const onlySmall = PLANS.map((p) => ({ ...p, yours_to_pick: p.name === 'small' }));
    renderPage({ ...ready, plan: 'large' }, onlySmall, { status: 403, body: { detail: 'no' } });
    const plan = await card();
    await waitFor(() => expect(plan.getByTestId('current-plan')).toHaveTextContent('large: 2 GiB of memory, 4 CPUs, 29 PHP workers'));
    expect(optionNames(plan.getByLabelText('New plan'))).toEqual(['large', 'small']);
  });

  it('says so when there is no other plan to pick', async () => {
    renderPage(ready, PLANS.map((p) => ({ ...p, yours_to_pick: p.name === 'small' })), { status: 403, body: { detail: 'no' } });
    const plan = await card();
    expect(await plan.findByText(/There is no other plan you may give this store/)).toBeInTheDocument();
    expect(plan.queryByLabelText('New plan')).toBeNull();
  });

  it('waits for a store that is not ready', async () => {
    renderPage({ ...ready, status: 'suspended' }, PLANS, { status: 409, body: { detail: 'no' } });
    const plan = await card();
    await plan.findByLabelText('New plan');
    await userEvent.selectOptions(plan.getByLabelText('New plan'), 'medium');
    expect(plan.getByRole('button', { name: 'Change plan' })).toBeDisabled();
    expect(plan.getByText(/while the store is ready/)).toBeInTheDocument();
  });
});
