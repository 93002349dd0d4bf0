/**
 * Stores as rows: name, status, current step and progress, address, plan,
 * created time and actions. A table on a wide screen; each row a card on a phone
 * (styles.css), with the column names repeated as labels.
 */
import { memo } from 'react';
import { Link } from 'react-router-dom';
import type { StoreOut } from '../../client';
import { StatusBadge } from '../../components/StatusBadge';
import { formatDateTime, formatRelative } from '../../components/format';
import { BUSY_PHASES } from '../../hooks/queries/stores';

export function StepProgress({ store }: { store: StoreOut }) {
  const { done, total } = store.progress;
  const busy = BUSY_PHASES.has(store.status);
  const label = store.current_step
    ? `${store.current_step} (${done}/${total})`
    : store.status === 'ready'
      ? `All ${total} steps done`
      : store.status === 'failed'
        ? `Stopped at ${done}/${total}`
        : total
          ? `${done}/${total} steps`
          : '—';
  return (
    <div className="step-progress">
      <span className="step-label">{label}</span>
      {total > 0 && (busy || store.status === 'failed') && (
        <progress max={total} value={done} aria-label={`${store.name}: ${done} of ${total} steps done`} />
      )}
    </div>
  );
}

const StoreRow = memo(function StoreRow({ store, showOwner }: { store: StoreOut; showOwner: boolean }) {
  return (
    <tr data-store={store.name}>
      <th scope="row" data-label="Store">
        <Link to={`/stores/${store.id}`} className="store-name">
          {store.name}
        </Link>
      </th>
      <td data-label="Status">
        <StatusBadge status={store.status} />
      </td>
      <td data-label="Step">
        <StepProgress store={store} />
      </td>
      <td data-label="Address" className="cell-url">
        {store.url && store.status === 'ready' ? (
          <a href={store.url} target="_blank" rel="noreferrer">
            {store.url.replace(/^https?:\/\//, '')}
          </a>
        ) : (
          <span className="muted">{store.url ? store.url.replace(/^https?:\/\//, '') : 'Not yet'}</span>
        )}
      </td>
      <td data-label="Plan" className="cell-plan">
        {store.plan}
      </td>
      {showOwner && <td data-label="Owner">{store.owner_email}</td>}
      <td data-label="Created">
        <time dateTime={store.created_at} title={formatDateTime(store.created_at)}>
          {formatRelative(store.created_at)}
        </time>
      </td>
      <td data-label="Actions" className="cell-actions">
        <Link to={`/stores/${store.id}`} className="button button-small" aria-label={`Details of ${store.name}`}>
          Details
        </Link>
        {store.url && store.status === 'ready' && (
          <a href={store.url} target="_blank" rel="noreferrer" className="button button-small" aria-label={`Visit ${store.name}`}>
            Visit
          </a>
        )}
      </td>
    </tr>
  );
});

export function StoreTable({ stores, showOwner = false }: { stores: StoreOut[]; showOwner?: boolean }) {
  return (
    <table className="table store-table">
      <caption className="visually-hidden">Stores, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Store</th>
          <th scope="col">Status</th>
          <th scope="col">Step</th>
          <th scope="col">Address</th>
          <th scope="col">Plan</th>
          {showOwner && <th scope="col">Owner</th>}
          <th scope="col">Created</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {stores.map((store) => (
          <StoreRow key={store.id} store={store} showOwner={showOwner} />
        ))}
      </tbody>
    </table>
  );
}
