/**
 * A live store's staging copies (docs/staging.md): each with its address,
 * status and expiry, and the controls a merchant needs — make a copy, push
 * one into live (files, database or both), refresh it from live, extend it
 * by 7 days. On a copy's own page the card says whose copy it is. The API's
 * refusals (409: not ready, something else runs, …) show under the card.
 */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { errorMessage } from '../../api/errors';
import type { PushRequest, StoreDetail, StoreOut } from '../../client';
import {
  useCreateStaging,
  useExtendStaging,
  usePushStaging,
  useRefreshStaging,
  useStagingCopies,
} from '../../hooks/queries/staging';

const RUNNING = new Set(['ready', 'degraded']);

export function StagingCard({ store }: { store: StoreDetail }) {
  if (store.staging_of_id != null) {
    return (
      <div className="card" data-testid="staging-card">
        <h2>Staging copy</h2>
        <p>
          A staging copy of <Link to={`/stores/${store.staging_of_id}`}>store {store.staging_of_id}</Link>: not
          indexed, its mail kept here and never sent, only offline payment methods.
          {store.expires_at && <> Deleted {new Date(store.expires_at).toLocaleString()} unless extended.</>}
        </p>
        <p className="hint">Push it, refresh it or extend it from its live store's page.</p>
      </div>
    );
  }
  return <LiveStagingCard store={store} />;
}

function LiveStagingCard({ store }: { store: StoreDetail }) {
  const copies = useStagingCopies(store.id);
  const create = useCreateStaging(store.id);
  const push = usePushStaging(store.id);
  const refresh = useRefreshStaging(store.id);
  const extend = useExtendStaging(store.id);
  const [what, setWhat] = useState<PushRequest['what']>('both');
  const busy = !!store.current_operation || !RUNNING.has(store.status);
  const failed = [create, push, refresh, extend].find((m) => m.isError);

  return (
    <div className="card" data-testid="staging-card">
      <h2>Staging</h2>
      <p className="hint">
        Try changes on a copy, then push them to live: live is backed up first and keeps the orders, customers,
        stock and sessions that arrive meanwhile.
      </p>
      {copies.data && copies.data.length === 0 && <p className="muted">No staging copy.</p>}
      {copies.data && copies.data.length > 0 && (
        <ul className="staging-copies">
          {copies.data.map((c) => (
            <StagingCopy
              key={c.id}
              copy={c}
              what={what}
              liveBusy={busy}
              onPush={() => push.mutate({ copyId: c.id, what })}
              onRefresh={() => refresh.mutate(c.id)}
              onExtend={() => extend.mutate({ copyId: c.id, days: 7 })}
            />
          ))}
        </ul>
      )}
      {copies.data && copies.data.length > 0 && (
        <div className="field">
          <label htmlFor={`push-what-${store.id}`}>Push</label>
          <select
            id={`push-what-${store.id}`}
            value={what}
            onChange={(e) => setWhat(e.target.value as PushRequest['what'])}
          >
            <option value="both">files and database</option>
            <option value="files">files only</option>
            <option value="database">database only</option>
          </select>
        </div>
      )}
      <button
        type="button"
        className="button"
        disabled={busy || create.isPending}
        onClick={() => create.mutate()}
      >
        {create.isPending ? 'Making a copy…' : 'Make a staging copy'}
      </button>
      {create.data?.admin_password && (
        <p className="notice" role="status">
          The copy's admin password (shown once): <code>{create.data.admin_password}</code>
        </p>
      )}
      {push.isSuccess && (
        <p className="notice" role="status">
          Push {push.data?.id} started: watch it on this page.
        </p>
      )}
      {failed && (
        <p className="form-error" role="alert">
          {errorMessage(failed.error)}
        </p>
      )}
    </div>
  );
}

function StagingCopy(props: {
  copy: StoreOut;
  what: PushRequest['what'];
  liveBusy: boolean;
  onPush: () => void;
  onRefresh: () => void;
  onExtend: () => void;
}) {
  const { copy } = props;
  const ready = RUNNING.has(copy.status) && !copy.current_operation;
  return (
    <li data-testid="staging-copy">
      <Link to={`/stores/${copy.id}`}>{copy.name}</Link> <span className="muted">{copy.status}</span>{' '}
      {copy.url && (
        <a href={copy.url} target="_blank" rel="noreferrer">
          {copy.url}
        </a>
      )}
      {copy.expires_at && <span className="hint"> expires {new Date(copy.expires_at).toLocaleString()}</span>}
      <div className="actions">
        <button type="button" className="button button-primary" disabled={!ready || props.liveBusy} onClick={props.onPush}>
          Push to live
        </button>
        <button type="button" className="button" disabled={!ready || props.liveBusy} onClick={props.onRefresh}>
          Refresh from live
        </button>
        <button type="button" className="button" onClick={props.onExtend}>
          Extend 7 days
        </button>
      </div>
    </li>
  );
}
