/**
 * A store's logs: PHP's errors or the web server's access log, newest first,
 * as the API gives them (the store's own lines only; cookies, credentials,
 * tokens and query arguments' values already redacted), with a search and
 * what the platform keeps of them. Refreshed every few seconds while shown.
 */
import { useState } from 'react';
import { ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { type LogSource, useStoreLogs } from '../../hooks/queries/stores';
import type { StoreDetail } from '../../client';

const SOURCES: { id: LogSource; label: string; empty: string }[] = [
  { id: 'php', label: 'PHP errors', empty: 'No PHP errors or warnings yet.' },
  { id: 'access', label: 'Access log', empty: 'No requests logged yet.' },
];

function Lines({ store, source, q }: { store: StoreDetail; source: (typeof SOURCES)[number]; q: string }) {
  const logs = useStoreLogs(store.id, source.id, q, true);
  if (logs.isPending) return <Loading label="Loading the logs…" />;
  if (logs.isError && !logs.data) return <ErrorState error={logs.error} />;
  const page = logs.data;
  return (
    <>
      {page.items.length === 0 ? (
        <p className="muted">{q ? `No line holds “${q}”.` : source.empty}</p>
      ) : (
        <ol className="log-lines" tabIndex={0} aria-label={`${source.label}, newest first`}>
          {page.items.map((line, i) => (
            <li key={`${line.at ?? ''}-${i}`} className="log-line">
              {line.at ? <time dateTime={line.at}>{formatDateTime(line.at)}</time> : <span />}
              <pre>{line.text}</pre>
            </li>
          ))}
        </ol>
      )}
      {page.more && <p className="hint">The newest {page.items.length} lines; search to find older ones.</p>}
      <p className="hint">{page.kept}</p>
    </>
  );
}

export function LogsCard({ store }: { store: StoreDetail }) {
  const [source, setSource] = useState<LogSource>('php');
  const [typed, setTyped] = useState('');
  const [q, setQ] = useState('');
  const current = SOURCES.find((s) => s.id === source) ?? SOURCES[0];
  return (
    <div className="card">
      <h2>Logs</h2>
      <p className="muted">
        This store’s own lines only. Cookies, passwords, tokens and the values in addresses’ query strings are shown as
        [redacted].
      </p>
      <div className="log-tools">
        <div role="tablist" aria-label="Which log" className="tabs">
          {SOURCES.map((s) => (
            <button
              key={s.id}
              type="button"
              role="tab"
              id={`log-tab-${s.id}`}
              aria-selected={s.id === source}
              aria-controls="log-panel"
              className="button button-small tab"
              onClick={() => setSource(s.id)}
            >
              {s.label}
            </button>
          ))}
        </div>
        <form
          className="input-row log-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQ(typed.trim());
          }}
        >
          <label htmlFor="log-search" className="visually-hidden">
            Search the log
          </label>
          <input
            id="log-search"
            type="search"
            placeholder="Search the log"
            value={typed}
            maxLength={200}
            onChange={(e) => setTyped(e.target.value)}
          />
          <button type="submit" className="button button-small">
            Search
          </button>
        </form>
      </div>
      <div role="tabpanel" id="log-panel" aria-labelledby={`log-tab-${current.id}`}>
        <Lines store={store} source={current} q={q} />
      </div>
    </div>
  );
}
