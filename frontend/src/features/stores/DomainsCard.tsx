/**
 * A store's custom domains (docs/domains.md): add one, see the DNS TXT
 * record that proves it the merchant's (with a copy button), follow it while
 * the platform sees the proof and gets its certificate, read why it failed,
 * remove it. The store's address moves to its primary domain once that is
 * active; the page's address line follows. The API's refusals — 409 (another
 * store holds it), 422 (not a domain) — show under the field.
 */
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { errorMessage } from '../../api/errors';
import type { DomainOut, StoreDetail } from '../../client';
import { CopyButton } from '../../components/CopyButton';
import { useAddDomain, useDomains, useRemoveDomain } from '../../hooks/queries/domains';

const STATUS_WORDS: Record<DomainOut['status'], string> = {
  pending: 'waiting for its TXT record',
  verified: 'proven; getting its certificate',
  active: 'served over https',
  failed: 'failed',
  removing: 'being removed',
  removed: 'removed',
};

function day(iso: string) {
  return new Date(iso).toISOString().slice(0, 10);
}

function DomainRow({ domain, onRemove, removing }: { domain: DomainOut; onRemove: () => void; removing: boolean }) {
  const v = domain.verification;
  return (
    <li className="domain" data-testid="domain" data-status={domain.status}>
      <p>
        <strong>{domain.domain}</strong>
        {domain.primary && <span className="tag"> primary</span>} — <span>{STATUS_WORDS[domain.status]}</span>
        {domain.url && (
          <>
            {' '}
            at{' '}
            <a href={domain.url} target="_blank" rel="noreferrer">
              {domain.url}
            </a>
          </>
        )}
      </p>
      {domain.status === 'pending' && (
        <div className="hint">
          <p>Prove it is yours: add this TXT record to the domain&apos;s DNS zone.</p>
          <dl className="txt-record">
            <dt>Name</dt>
            <dd>
              <code>{v.name}</code> <CopyButton value={v.name} label="Copy name" />
            </dd>
            <dt>Value</dt>
            <dd>
              <code>{v.value}</code> <CopyButton value={v.value} label="Copy value" />
            </dd>
          </dl>
          <p>Point the domain&apos;s A/AAAA records at the platform&apos;s stores too: its certificate is checked there.</p>
        </div>
      )}
      {domain.expires_at && domain.status === 'active' && (
        <p className="hint">Certificate valid until {day(domain.expires_at)}; renewed before it expires.</p>
      )}
      {domain.failure_reason && (
        <p className={domain.status === 'failed' ? 'form-error' : 'hint'} data-testid="domain-reason">
          {domain.failure_reason}
        </p>
      )}
      {domain.status !== 'removing' && (
        <button type="button" className="button" onClick={onRemove} disabled={removing} aria-label={`Remove ${domain.domain}`}>
          Remove
        </button>
      )}
    </li>
  );
}

export function DomainsCard({ store }: { store: StoreDetail }) {
  const id = useId();
  const domains = useDomains(store.id);
  const add = useAddDomain(store.id);
  const remove = useRemoveDomain(store.id);
  const [name, setName] = useState('');
  const [primary, setPrimary] = useState(true);
  const errorId = `${id}-error`;
  const rows = domains.data ?? [];

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!name.trim()) return;
    add.mutate({ domain: name.trim(), primary }, { onSuccess: () => setName('') });
  };

  return (
    <div className="card" data-testid="domains-card">
      <h2>Custom domains</h2>
      <p className="muted">
        The store answers at <a href={store.url ?? undefined}>{store.url}</a>. Bring a domain of your own: once it is
        proven yours it gets a certificate, and a primary domain becomes the store&apos;s address (the old one leads
        there).
      </p>
      {domains.isError && <p className="form-error">The domains could not be read: {errorMessage(domains.error)}</p>}
      {rows.length > 0 && (
        <ul className="domains" aria-label="Domains">
          {rows.map((d) => (
            <DomainRow key={d.domain} domain={d} onRemove={() => remove.mutate(d.domain)} removing={remove.isPending} />
          ))}
        </ul>
      )}
      {remove.isError && (
        <p className="form-error" role="alert">
          {errorMessage(remove.error)}
        </p>
      )}
      <form className="domain-add" onSubmit={onSubmit} aria-label="Add a domain">
        <div className="field">
          <label htmlFor={`${id}-domain`}>Domain</label>
          <input
            id={`${id}-domain`}
            value={name}
            placeholder="shop.example.com"
            onChange={(e) => {
              setName(e.target.value);
              add.reset();
            }}
            aria-describedby={add.isError ? errorId : undefined}
            aria-invalid={add.isError ? true : undefined}
          />
        </div>
        <div className="field field-check">
          <input id={`${id}-primary`} type="checkbox" checked={primary} onChange={(e) => setPrimary(e.target.checked)} />
          <label htmlFor={`${id}-primary`}>The store&apos;s address</label>
        </div>
        <button type="submit" className="button button-primary" disabled={!name.trim() || add.isPending}>
          {add.isPending ? 'Adding…' : 'Add domain'}
        </button>
      </form>
      {add.isError && (
        <p className="field-error" id={errorId} role="alert">
          {errorMessage(add.error)}
        </p>
      )}
    </div>
  );
}
