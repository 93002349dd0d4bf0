/** The audit log (admins): who did what to which target, newest first. */
import { useState } from 'react';
import { Pagination } from '../../components/Pagination';
import { Empty, ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { useAuditEvents } from '../../hooks/queries/audit';
import { usePageTitle } from '../../components/usePageTitle';

const PAGE = 50;

function detailText(detail: Record<string, unknown> | null): string {
  if (!detail) return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

export function AuditPage() {
  const [offset, setOffset] = useState(0);
  const audit = useAuditEvents({ limit: PAGE, offset });
  usePageTitle('Audit log');
  return (
    <section className="page" aria-labelledby="audit-title">
      <header className="page-head">
        <div>
          <h1 id="audit-title">Audit log</h1>
          <p className="muted">Every sign-in, store and user change, newest first.</p>
        </div>
      </header>
      {audit.isPending ? (
        <Loading label="Loading the audit log…" />
      ) : audit.isError ? (
        <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />
      ) : audit.data.items.length === 0 ? (
        <Empty title="Nothing recorded yet" />
      ) : (
        <>
          <table className="table audit-table">
            <caption className="visually-hidden">Audit events</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
                <th scope="col">Address</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.items.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td data-label="When">
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  </td>
                  <td data-label="Who">{e.actor_email ?? <span className="muted">system</span>}</td>
                  <th scope="row" data-label="Action">
                    <code>{e.action}</code>
                  </th>
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
