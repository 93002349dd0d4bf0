/**
 * The stores list, one server-side page at a time (cursor pages, so a page
 * deep in thousands of stores is as quick as the first), searched by name
 * prefix and sorted on the server. Admins see every store with its owner and
 * can narrow by owner, phase, or include deleted stores.
 */
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import type { Me, Phase, StoreSort } from '../../client';
import { CursorPager, formatTrail, parseTrail } from '../../components/CursorPager';
import { Empty, ErrorState, Loading } from '../../components/States';
import { useStores } from '../../hooks/queries/stores';
import type { StoreListParams } from '../../hooks/queries/stores';
import { useUsers } from '../../hooks/queries/users';
import { LiveIndicator } from '../../live/LiveStatus';
import { usePageTitle } from '../../components/usePageTitle';
import { CreateStoreDialog } from './CreateStoreDialog';
import { StoreTable } from './StoreTable';

export const PAGE_SIZE = 50;
const PHASES: Phase[] = ['pending', 'provisioning', 'ready', 'degraded', 'suspended', 'failed', 'deleting', 'deleted'];
const SORTS: { value: StoreSort; label: string }[] = [
  { value: '-created_at', label: 'Newest first' },
  { value: 'created_at', label: 'Oldest first' },
  { value: 'name', label: 'Name A–Z' },
  { value: '-name', label: 'Name Z–A' },
];

function OwnerFilter({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const users = useUsers({ limit: 500, offset: 0 });
  return (
    <div className="filter">
      <label htmlFor="owner-filter">Owner</label>
      <select id="owner-filter" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Everyone</option>
        {users.data?.items.map((u) => (
          <option key={u.id} value={String(u.id)}>
            {u.email}
          </option>
        ))}
      </select>
    </div>
  );
}

export function StoresPage({ me }: { me: Me }) {
  const isAdmin = me.role === 'admin';
  const [search, setSearch] = useSearchParams();
  const [creating, setCreating] = useState(false);
  const trail = parseTrail(search.get('pages'));
  const cursor = trail.length ? trail[trail.length - 1] : undefined;
  const sort = (SORTS.find((s) => s.value === search.get('sort'))?.value ?? '-created_at') as StoreSort;
  const name = search.get('name') ?? '';
  const status = (search.get('status') || '') as Phase | '';
  const owner = search.get('owner') ?? '';
  const includeDeleted = search.get('deleted') === '1';

  const params: StoreListParams = { limit: PAGE_SIZE, sort };
  if (cursor) params.cursor = cursor;
  if (name) params.name_prefix = name;
  if (status) params.status = status;
  if (isAdmin && owner) params.owner_id = Number(owner);
  if (includeDeleted || status === 'deleted') params.include_deleted = true;
  const stores = useStores(params);

  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== 'pages') next.delete('pages');
    setSearch(next);
  };
  const filtered = Boolean(status || owner || includeDeleted || name);
  const atQuota = me.live_stores >= me.effective_max_live_stores;
  usePageTitle(isAdmin ? 'All stores' : 'Your stores');

  return (
    <section className="page" aria-labelledby="stores-title">
      <header className="page-head">
        <div>
          <h1 id="stores-title">{isAdmin ? 'All stores' : 'Your stores'}</h1>
          <p className="muted">
            {me.live_stores} of {me.effective_max_live_stores} live stores used · <LiveIndicator />
          </p>
        </div>
        <button
          type="button"
          className="button button-primary"
          onClick={() => setCreating(true)}
          title={atQuota ? 'You have reached your live-store quota' : undefined}
        >
          Create store
        </button>
      </header>

      <div className="filters" role="group" aria-label="Filter stores">
        <div className="filter">
          <label htmlFor="name-filter">Name starts with</label>
          <input
            id="name-filter"
            type="search"
            value={name}
            maxLength={40}
            autoComplete="off"
            onChange={(e) => setParam('name', e.target.value.trim().toLowerCase())}
          />
        </div>
        <div className="filter">
          <label htmlFor="status-filter">Status</label>
          <select id="status-filter" value={status} onChange={(e) => setParam('status', e.target.value)}>
            <option value="">Any</option>
            {PHASES.map((p) => (
              <option key={p} value={p}>
                {p[0].toUpperCase() + p.slice(1)}
              </option>
            ))}
          </select>
        </div>
        <div className="filter">
          <label htmlFor="sort-order">Order</label>
          <select id="sort-order" value={sort} onChange={(e) => setParam('sort', e.target.value === '-created_at' ? '' : e.target.value)}>
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        {isAdmin && <OwnerFilter value={owner} onChange={(v) => setParam('owner', v)} />}
        <label className="checkbox">
          <input type="checkbox" checked={includeDeleted} onChange={(e) => setParam('deleted', e.target.checked ? '1' : '')} />
          Show deleted
        </label>
      </div>

      {stores.isPending ? (
        <Loading label="Loading stores…" />
      ) : stores.isError && !stores.data ? (
        <ErrorState error={stores.error} onRetry={() => void stores.refetch()} />
      ) : stores.data.items.length === 0 ? (
        trail.length > 0 ? (
          <Empty title="No stores on this page">
            <button type="button" className="button" onClick={() => setParam('pages', '')}>
              Go to the first page
            </button>
          </Empty>
        ) : filtered ? (
          <Empty title="No stores match these filters" />
        ) : (
          <Empty title="No stores yet">
            <p>Create your first WooCommerce store: it takes a name and an email, and is ready in a few minutes.</p>
            <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
              Create store
            </button>
          </Empty>
        )
      ) : (
        <>
          {stores.isError && <ErrorState error={stores.error} onRetry={() => void stores.refetch()} />}
          <StoreTable stores={stores.data.items} showOwner={isAdmin} />
          <CursorPager
            label="Stores pages"
            trail={trail}
            next={stores.data.next_cursor ?? null}
            shown={stores.data.items.length}
            limit={PAGE_SIZE}
            total={stores.data.total}
            onTrail={(t) => setParam('pages', formatTrail(t))}
          />
        </>
      )}
      {creating && <CreateStoreDialog defaultEmail={me.email} onClose={() => setCreating(false)} />}
    </section>
  );
}
