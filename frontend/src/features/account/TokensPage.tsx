/** Personal API tokens: create (the secret shown once), list with last use, revoke. */
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import type { Me, Scope } from '../../client';
import { CopyButton } from '../../components/CopyButton';
import { ErrorState, Loading } from '../../components/States';
import { usePageTitle } from '../../components/usePageTitle';
import { useCreateToken, useRevokeToken, useTokens } from '../../hooks/queries/integrations';

const SCOPES: { scope: Scope; label: string; admin?: boolean }[] = [
  { scope: 'read', label: 'read — list and read what you may see' },
  { scope: 'stores', label: 'stores — create, change and delete stores' },
  { scope: 'webhooks', label: 'webhooks — manage webhooks' },
  { scope: 'admin', label: 'admin — everything an admin may do', admin: true },
  { scope: 'metrics', label: 'metrics — read /metrics (Prometheus)', admin: true },
];

const when = (iso?: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

export function TokensPage({ me }: { me: Me }) {
  usePageTitle('API tokens');
  const tokens = useTokens();
  const create = useCreateToken();
  const revoke = useRevokeToken();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const shown = create.data?.token;

  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <p>Tokens let scripts and CI use the API as you: send one as <code>Authorization: Bearer</code>, or set <code>STOREFLEET_TOKEN</code> for the CLI.</p>
      <form
        className="card form"
        aria-label="Create a token"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name: name.trim(), scopes });
        }}
      >
        <div className="field">
          <label htmlFor="token-name">Name</label>
          <input id="token-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        </div>
        <fieldset className="field">
          <legend>Scopes</legend>
          {SCOPES.filter((s) => !s.admin || me.role === 'admin').map((s) => (
            <label key={s.scope} className="checkbox">
              <input
                type="checkbox"
                checked={scopes.includes(s.scope)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s.scope] : scopes.filter((x) => x !== s.scope))}
              />{' '}
              {s.label}
            </label>
          ))}
        </fieldset>
        {create.isError && (
          <p className="form-error" role="alert">
            {errorMessage(create.error)}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={create.isPending || scopes.length === 0}>
          Create token
        </button>
      </form>
      {shown && (
        <div className="card notice" role="status" aria-label="New token">
          <p>Copy the token now: it is not shown again.</p>
          <code data-testid="new-token">{shown}</code> <CopyButton value={shown} />
        </div>
      )}
      {tokens.isPending ? (
        <Loading label="Loading tokens…" />
      ) : tokens.isError ? (
        <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} />
      ) : tokens.data.length === 0 ? (
        <p>No tokens yet.</p>
      ) : (
        <table className="table" aria-label="Tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Token</th>
              <th scope="col">Scopes</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>
                  <code>{t.prefix}…</code>
                </td>
                <td>{t.scopes.join(', ')}</td>
                <td>{t.last_used_at ? when(t.last_used_at) : 'never'}</td>
                <td>{t.expires_at ? when(t.expires_at) : 'never'}</td>
                <td>
                  {t.revoked_at ? (
                    `revoked ${when(t.revoked_at)}`
                  ) : (
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Revoke ${t.name}`}
                      disabled={revoke.isPending}
                      onClick={() => revoke.mutate(t.id)}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
