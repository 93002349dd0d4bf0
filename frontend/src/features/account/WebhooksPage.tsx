/** Webhooks: register a URL for events (the signing secret shown once), list them, see each delivery's attempts, remove. */
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import type { EventType, Me } from '../../client';
import { CopyButton } from '../../components/CopyButton';
import { ErrorState, Loading } from '../../components/States';
import { usePageTitle } from '../../components/usePageTitle';
import { useCreateWebhook, useDeleteWebhook, useDeliveries, useWebhooks } from '../../hooks/queries/integrations';

const EVENTS: EventType[] = [
  'store.ready', 'store.failed', 'store.degraded', 'store.deleted',
  'backup.completed', 'backup.failed', 'upgrade.completed', 'upgrade.halted',
];

function Deliveries({ id }: { id: number }) {
  const deliveries = useDeliveries(id);
  if (deliveries.isPending) return <Loading label="Loading deliveries…" />;
  if (deliveries.isError) return <ErrorState error={deliveries.error} />;
  if (deliveries.data.length === 0) return <p>No deliveries yet.</p>;
  return (
    <table className="table" aria-label="Deliveries">
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
        </tr>
      </thead>
      <tbody>
        {deliveries.data.map((d) => (
          <tr key={d.id}>
            <td>
              {d.event} <small>{new Date(d.created_at).toLocaleString()}</small>
            </td>
            <td>{d.status}</td>
            <td>
              {d.tries.map((t) => (
                <div key={t.number}>
                  #{t.number}: {t.status_code ?? t.error} {t.response ? `— ${t.response.slice(0, 80)}` : ''}
                </div>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WebhooksPage({ me }: { me: Me }) {
  usePageTitle('Webhooks');
  const hooks = useWebhooks();
  const create = useCreateWebhook();
  const remove = useDeleteWebhook();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<EventType[]>(['store.ready']);
  const [fleetWide, setFleetWide] = useState(false);
  const [open, setOpen] = useState<number | null>(null);

  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p>
        Each event is POSTed as JSON, signed in <code>X-StoreFleet-Signature</code> (HMAC-SHA256 of the timestamp and the body with the webhook's secret), and retried with backoff until your server answers 2xx.
      </p>
      <form
        className="card form"
        aria-label="Add a webhook"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ url: url.trim(), events, fleet_wide: fleetWide });
        }}
      >
        <div className="field">
          <label htmlFor="webhook-url">URL</label>
          <input id="webhook-url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/storefleet" />
        </div>
        <fieldset className="field">
          <legend>Events</legend>
          {EVENTS.map((ev) => (
            <label key={ev} className="checkbox">
              <input
                type="checkbox"
                checked={events.includes(ev)}
                onChange={(e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))}
              />{' '}
              {ev}
            </label>
          ))}
        </fieldset>
        {me.role === 'admin' && (
          <label className="checkbox">
            <input type="checkbox" checked={fleetWide} onChange={(e) => setFleetWide(e.target.checked)} /> Every store's events (fleet-wide)
          </label>
        )}
        {create.isError && (
          <p className="form-error" role="alert">
            {errorMessage(create.error)}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={create.isPending || events.length === 0}>
          Add webhook
        </button>
      </form>
      {create.data && (
        <div className="card notice" role="status" aria-label="Signing secret">
          <p>The signing secret, shown only now:</p>
          <code>{create.data.secret}</code> <CopyButton value={create.data.secret} />
        </div>
      )}
      {hooks.isPending ? (
        <Loading label="Loading webhooks…" />
      ) : hooks.isError ? (
        <ErrorState error={hooks.error} onRetry={() => void hooks.refetch()} />
      ) : hooks.data.length === 0 ? (
        <p>No webhooks yet.</p>
      ) : (
        <ul className="webhooks">
          {hooks.data.map((h) => (
            <li key={h.id} className="card">
              <p>
                <code>{h.url}</code> — {h.events.join(', ')}
                {h.fleet_wide ? ' (fleet-wide)' : ''}
              </p>
              <button type="button" className="button button-small" onClick={() => setOpen(open === h.id ? null : h.id)} aria-expanded={open === h.id}>
                Deliveries
              </button>{' '}
              <button type="button" className="button button-small button-danger" onClick={() => remove.mutate(h.id)} disabled={remove.isPending} aria-label={`Remove ${h.url}`}>
                Remove
              </button>
              {open === h.id && <Deliveries id={h.id} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
