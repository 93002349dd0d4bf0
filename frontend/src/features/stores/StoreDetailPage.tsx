/**
 * One store: its phase, links, the step timeline (with durations and
 * messages), the failure reason with Retry, its plan (and another one: a
 * resize), its backups (take one, restore one), its logs, Suspend / Resume,
 * recent events, and deletion behind a confirmation that asks for the store's name.
 */
import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError, errorMessage } from '../../api/errors';
import type { StepOut, StoreDetail } from '../../client';
import { Modal } from '../../components/Modal';
import { ErrorState, Loading } from '../../components/States';
import { StatusBadge, stepStatusLabel } from '../../components/StatusBadge';
import { formatDateTime, formatDuration } from '../../components/format';
import {
  useDeleteStore,
  useResumeStore,
  useRetryStore,
  useStore,
  useStoreEvents,
  useStoreMail,
  useSuspendStore,
} from '../../hooks/queries/stores';
import { BackupsCard } from './BackupsCard';
import { DomainsCard } from './DomainsCard';
import { LogsCard } from './LogsCard';
import { PlanCard } from './PlanCard';
import { StagingCard } from './StagingCard';
import { LiveIndicator } from '../../live/LiveStatus';
import { StepProgress } from './StoreTable';
import { usePageTitle } from '../../components/usePageTitle';

function StepTimeline({ steps }: { steps: StepOut[] }) {
  if (steps.length === 0) return <p className="muted">No steps have run yet.</p>;
  return (
    <ol className="timeline" aria-label="Steps">
      {steps.map((step) => (
        <li key={`${step.operation}-${step.name}`} className={`timeline-step step-${step.status}`} data-step={step.name}>
          <span className="timeline-icon" aria-hidden="true" />
          <div className="timeline-body">
            <div className="timeline-head">
              <strong>{step.name}</strong>
              <span className={`step-status step-status-${step.status}`}>{stepStatusLabel(step.status)}</span>
              {step.attempt > 1 && <span className="muted">attempt {step.attempt}</span>}
              <span className="timeline-duration">{formatDuration(step.started_at, step.finished_at)}</span>
            </div>
            {step.message && <p className="timeline-message">{step.message}</p>}
          </div>
        </li>
      ))}
    </ol>
  );
}

function Events({ id }: { id: number }) {
  const events = useStoreEvents(id);
  if (events.isPending) return <Loading label="Loading events…" />;
  if (events.isError) return <ErrorState error={events.error} />;
  if (events.data.length === 0) return <p className="muted">No events yet.</p>;
  const latest = events.data.slice(-50).reverse();
  return (
    <ul className="events" tabIndex={0} aria-label="Events, newest first">
      {latest.map((e) => (
        <li key={e.id} className={`event event-${e.level}`}>
          <time dateTime={e.at}>{formatDateTime(e.at)}</time>
          <span className="event-kind">{e.kind}</span>
          <span>{e.message}</span>
        </li>
      ))}
    </ul>
  );
}

function Mail({ id, enabled }: { id: number; enabled: boolean }) {
  const mail = useStoreMail(id, enabled);
  if (!enabled) return <p className="muted">The store has not sent any mail yet.</p>;
  if (mail.isPending) return <Loading label="Loading mail…" />;
  if (mail.isError) return <ErrorState error={mail.error} />;
  if (mail.data.delivery === 'smtp')
    return <p className="muted">This store sends its mail through the platform’s SMTP server.</p>;
  if (mail.data.items.length === 0) return <p className="muted">The store has not sent any mail yet.</p>;
  return (
    <ul className="mailbox" aria-label="Mail the store sent, newest first">
      {mail.data.items.map((m) => (
        <li key={m.id} className="mail">
          <details>
            <summary>
              <strong className="mail-subject">{m.subject}</strong>{' '}
              <span className="muted">
                to {m.to.join(', ')} · <time dateTime={m.at}>{formatDateTime(m.at)}</time>
              </span>
            </summary>
            <pre className="mail-text">{m.text}</pre>
          </details>
        </li>
      ))}
    </ul>
  );
}

function DeleteDialog({ store, onClose }: { store: StoreDetail; onClose: () => void }) {
  const del = useDeleteStore(store.id);
  const [typed, setTyped] = useState('');
  const matches = typed === store.name;
  return (
    <Modal title={`Delete ${store.name}?`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (matches) del.mutate(undefined, { onSuccess: onClose });
        }}
      >
        <p>
          This removes the store, its files and its database. A final backup is taken first and kept for a while; a
          new store can be made from it. Without it, orders, products and customers are lost.
        </p>
        <div className="field">
          <label htmlFor="confirm-name">
            Type <strong>{store.name}</strong> to confirm
          </label>
          <input
            id="confirm-name"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus
          />
        </div>
        {del.isError && (
          <p className="form-error" role="alert">
            {errorMessage(del.error)}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-danger" disabled={!matches || del.isPending}>
            {del.isPending ? 'Deleting…' : 'Delete store'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function StoreDetailPage() {
  const id = Number(useParams().storeId);
  const store = useStore(id);
  const retry = useRetryStore(id);
  const suspend = useSuspendStore(id);
  const resume = useResumeStore(id);
  const [deleting, setDeleting] = useState(false);
  usePageTitle(store.data?.name ?? 'Store');

  if (!Number.isInteger(id)) return <ErrorState error={new Error('No such store')} />;
  if (store.isPending) return <Loading label="Loading store…" />;
  if (store.isError && !store.data) {
    const notFound = store.error instanceof ApiError && store.error.status === 404;
    return (
      <section className="page">
        <p>
          <Link to="/">← All stores</Link>
        </p>
        <ErrorState error={notFound ? new Error('This store does not exist, or it is not yours.') : store.error} />
      </section>
    );
  }
  const s = store.data;
  const ready = s.status === 'ready' || s.status === 'degraded';
  const gone = s.status === 'deleting' || s.status === 'deleted';
  const busy = Boolean(s.current_operation);
  const provisionSteps = s.steps.filter((st) => st.operation === 'provision');
  const deleteSteps = s.steps.filter((st) => st.operation === 'delete');
  const currentSteps =
    s.current_operation && !['provision', 'delete'].includes(s.current_operation)
      ? s.steps.filter((st) => st.operation === s.current_operation)
      : [];
  const actionError = suspend.error ?? resume.error;

  return (
    <section className="page" aria-labelledby="store-title">
      <p>
        <Link to="/">← All stores</Link>
      </p>
      <header className="page-head">
        <div>
          <h1 id="store-title" className="title-with-badge">
            {s.name} <StatusBadge status={s.status} />
          </h1>
          <p className="muted">
            Created {formatDateTime(s.created_at)}
            {s.ready_at && <> · ready {formatDateTime(s.ready_at)}</>} · <LiveIndicator />
          </p>
        </div>
        <div className="actions">
          {ready && s.url && (
            <a className="button button-primary" href={s.url} target="_blank" rel="noreferrer">
              Visit store
            </a>
          )}
          {ready && s.admin_url && (
            <a className="button" href={s.admin_url} target="_blank" rel="noreferrer">
              Open admin
            </a>
          )}
          {ready && (
            <button
              type="button"
              className="button"
              onClick={() => suspend.mutate()}
              disabled={busy || suspend.isPending}
            >
              {suspend.isPending ? 'Suspending…' : 'Suspend'}
            </button>
          )}
          {s.status === 'suspended' && (
            <button
              type="button"
              className="button button-primary"
              onClick={() => resume.mutate()}
              disabled={busy || resume.isPending}
            >
              {resume.isPending ? 'Resuming…' : 'Resume'}
            </button>
          )}
          {!gone && (
            <button type="button" className="button button-danger-outline" onClick={() => setDeleting(true)}>
              Delete…
            </button>
          )}
        </div>
      </header>

      {actionError && (
        <p className="form-error" role="alert">
          {errorMessage(actionError)}
        </p>
      )}
      {s.current_operation && !['provision', 'delete'].includes(s.current_operation) && (
        <div className="callout" role="status">
          <div>
            <h2>{s.current_operation[0].toUpperCase() + s.current_operation.slice(1)} in progress</h2>
            <StepTimeline steps={currentSteps} />
          </div>
        </div>
      )}
      {s.status === 'degraded' && (
        <div className="callout callout-warning" role="alert">
          <div>
            <h2>Not answering as it should</h2>
            <p>{s.failure_reason ?? 'Its health checks fail.'}</p>
            <p className="muted">It becomes ready again by itself once the checks pass.</p>
          </div>
        </div>
      )}
      {s.status === 'suspended' && (
        <div className="callout" role="status">
          <div>
            <h2>Suspended</h2>
            <p>The store keeps all its data; visitors see “store unavailable”. Resume it to sell again.</p>
          </div>
        </div>
      )}
      {s.status === 'failed' && (
        <div className="callout callout-danger" role="alert">
          <div>
            <h2>{s.ready_at ? 'The store failed' : 'Provisioning failed'}</h2>
            <p>{s.failure_reason ?? 'No reason was recorded.'}</p>
            {retry.isError && <p className="form-error">{errorMessage(retry.error)}</p>}
          </div>
          <button type="button" className="button button-primary" onClick={() => retry.mutate()} disabled={retry.isPending}>
            {retry.isPending ? 'Retrying…' : 'Retry'}
          </button>
        </div>
      )}

      <div className="grid-2">
        <div className="card">
          <h2>Details</h2>
          <dl className="details">
            <dt>Progress</dt>
            <dd>
              <StepProgress store={s} />
            </dd>
            <dt>Store address</dt>
            <dd>
              {s.url && ready ? (
                <a href={s.url} target="_blank" rel="noreferrer" data-testid="store-address">
                  {s.url}
                </a>
              ) : (
                (s.url ?? <span className="muted">Not yet</span>)
              )}
            </dd>
            <dt>Admin</dt>
            <dd>{s.admin_url ?? <span className="muted">Not yet</span>}</dd>
            <dt>Admin email</dt>
            <dd>{s.admin_email}</dd>
            <dt>Owner</dt>
            <dd>{s.owner_email}</dd>
            <dt>Plan</dt>
            <dd>{s.plan}</dd>
            <dt>Driver</dt>
            <dd>{s.driver}</dd>
            <dt>Runs</dt>
            <dd>
              {s.wordpress_version ? `WordPress ${s.wordpress_version}` : 'WordPress'}
              {s.woocommerce_version ? `, WooCommerce ${s.woocommerce_version}` : ''}
              {s.sample_products ? ', with sample products' : ''}
            </dd>
          </dl>
        </div>
        <div className="card">
          <h2>Provisioning steps</h2>
          <StepTimeline steps={provisionSteps} />
          {deleteSteps.length > 0 && (
            <>
              <h2>Deletion steps</h2>
              <StepTimeline steps={deleteSteps} />
            </>
          )}
        </div>
      </div>
      {!gone && <PlanCard store={s} />}
      {s.ready_at && <BackupsCard store={s} />}
      {!gone && <DomainsCard store={s} />}
      {s.ready_at && !gone && <LogsCard store={s} />}
      {s.ready_at && !gone && <StagingCard store={s} />}
      <div className="card">
        <h2>Mail</h2>
        <p className="muted">Order notifications and the other email this store sent.</p>
        <Mail id={id} enabled={ready} />
      </div>
      <div className="card">
        <h2>Events</h2>
        <Events id={id} />
      </div>
      {deleting && <DeleteDialog store={s} onClose={() => setDeleting(false)} />}
    </section>
  );
}
