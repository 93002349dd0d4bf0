/**
 * The audit log (admins): who did what to which target, from where, and
 * whether it was allowed; newest first, filtered by actor, action and result.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import type { AuditResult } from '../../client';
import { Pagination } from '../../components/Pagination';
import { Empty, ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { useAuditEvents } from '../../hooks/queries/audit';
import type { AuditFilters } from '../../hooks/queries/audit';
import { usePageTitle } from '../../components/usePageTitle';

const PAGE = 50;

/** The actions the platform records (the API accepts any). */
export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.csrf_refused',
  'access.denied',
  'user.create',
  'user.update',
  'store.create',
  'store.retry',
  'store.delete',
];

function detailText(detail: Record<string, unknown> | null): string {
  if (!detail) return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function Filters({ onApply }: { onApply: (filters: AuditFilters) => void }) {
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [result, setResult] = useState<AuditResult | ''>('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ actor: actor.trim() || undefined, action: action || undefined, result: result || undefined });
  };
  return (
    <form className="filters" role="search" aria-label="Filter the audit log" onSubmit={submit}>
      <div className="filter">
        <label htmlFor="audit-actor">Actor</label>
        <input id="audit-actor" type="search" placeholder="part of an email" value={actor} maxLength={254} onChange={(e) => setActor(e.target.value)} />
      </div>
      <div className="filter">
        <label htmlFor="audit-action">Action</label>
        <select id="audit-action" value={action} onChange={(e) => setAction(e.target.value)}>
          <option value="">Any</option>
          {AUDIT_ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </div>
      <div className="filter">
        <label htmlFor="audit-result">Result</label>
        <select id="audit-result" value={result} onChange={(e) => setResult(e.target.value as AuditResult | '')}>
          <option value="">Any</option>
          <option value="success">Allowed</option>
          <option value="failure">Refused</option>
        </select>
      </div>
      <button type="submit" className="button">
        Filter
      </button>
    </form>
  );
}

export function AuditPage() {
  const [offset, setOffset] = useState(0);
  const [filters, setFilters] = useState<AuditFilters>({});
  const audit = useAuditEvents({ limit: PAGE, offset, ...filters });
  const filtered = Boolean(filters.actor || filters.action || filters.result);
  usePageTitle('Audit log');
  return (
    <section className="page" aria-labelledby="audit-title">
      <header className="page-head">
        <div>
          <h1 id="audit-title">Audit log</h1>
          <p className="muted">Every sign-in, refusal, store and user change, newest first.</p>
        </div>
      </header>
      <Filters
        onApply={(next) => {
          setFilters(next);
          setOffset(0);
        }}
      />
      {audit.isPending ? (
        <Loading label="Loading the audit log…" />
      ) : audit.isError ? (
        <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />
      ) : audit.data.items.length === 0 ? (
        <Empty title={filtered ? 'Nothing matches these filters' : 'Nothing recorded yet'} />
      ) : (
        <>
          <table className="table audit-table">
            <caption className="visually-hidden">Audit events</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Result</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
                <th scope="col">Address</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.items.map((e) => (
                <tr key={e.id} data-action={e.action} data-result={e.result}>
                  <td data-label="When">
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  </td>
                  <td data-label="Who">{e.actor_email ?? <span className="muted">system</span>}</td>
                  <th scope="row" data-label="Action">
                    <code>{e.action}</code>
                  </th>
                  <td data-label="Result">
                    <span className={e.result === 'success' ? 'badge badge-success' : 'badge badge-danger'}>
                      <span className="badge-icon" aria-hidden="true" />
                      {e.result === 'success' ? 'Allowed' : 'Refused'}
                    </span>
                  </td>
                  <td data-label="Target">{e.target ?? ''}</td>
                  <td data-label="Detail" className="cell-detail">
                    {detailText(e.detail)}
                  </td>
                  <td data-label="Address">{e.client_ip ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pagination label="Audit log pages" offset={offset} limit={PAGE} total={audit.data.total} onOffset={setOffset} />
        </>
      )}
    </section>
  );
}
