/**
 * The stores list, newest first, one server-side page at a time so it stays
 * quick at thousands of stores. Admins see every store with its owner and can
 * narrow by owner, phase, or include deleted stores.
 */
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import type { Me, Phase } from '../../client';
import { Pagination } from '../../components/Pagination';
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
  const offset = Math.max(0, Number(search.get('offset') ?? 0) || 0);
  const status = (search.get('status') || '') as Phase | '';
  const owner = search.get('owner') ?? '';
  const includeDeleted = search.get('deleted') === '1';

  const params: StoreListParams = { limit: PAGE_SIZE, offset };
  if (status) params.status = status;
  if (isAdmin && owner) params.owner_id = Number(owner);
  if (includeDeleted || status === 'deleted') params.include_deleted = true;
  const stores = useStores(params);

  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== 'offset') next.delete('offset');
    setSearch(next);
  };
  const filtered = Boolean(status || owner || includeDeleted);
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
        offset > 0 ? (
          <Empty title="No stores on this page">
            <button type="button" className="button" onClick={() => setParam('offset', '')}>
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
          <Pagination
            label="Stores pages"
            offset={offset}
            limit={PAGE_SIZE}
            total={stores.data.total}
            onOffset={(o) => setParam('offset', o ? String(o) : '')}
          />
        </>
      )}
      {creating && <CreateStoreDialog defaultEmail={me.email} onClose={() => setCreating(false)} />}
    </section>
  );
}
