/** Two-factor sign-in: enrol (QR code, confirm with a code, recovery codes shown once) or turn it off. */
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import { ErrorState, Loading } from '../../components/States';
import { usePageTitle } from '../../components/usePageTitle';
import { useConfirmTwoFactor, useDisableTwoFactor, useSetupTwoFactor, useTwoFactor } from '../../hooks/queries/integrations';

export function TwoFactorPage({ required = false }: { required?: boolean }) {
  usePageTitle('Two-factor sign-in');
  const status = useTwoFactor();
  const setup = useSetupTwoFactor();
  const confirm = useConfirmTwoFactor();
  const disable = useDisableTwoFactor();
  const [code, setCode] = useState('');

  if (status.isPending) return <Loading />;
  if (status.isError) return <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  const codes = confirm.data?.recovery_codes;

  return (
    <section aria-labelledby="twofactor-title">
      <h1 id="twofactor-title">Two-factor sign-in</h1>
      {required && !codes && (
        <p className="notice" role="status">
          This platform requires two-factor sign-in for admins: set it up to continue.
        </p>
      )}
      {codes ? (
        <div className="card" role="status" aria-label="Recovery codes">
          <p>Two-factor sign-in is on. Keep these recovery codes somewhere safe: each signs you in once instead of a code, and they are not shown again.</p>
          <ul className="recovery-codes" data-testid="recovery-codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </div>
      ) : status.data.enabled ? (
        <form
          className="card form"
          aria-label="Turn two-factor sign-in off"
          onSubmit={(e) => {
            e.preventDefault();
            disable.mutate(code.trim());
          }}
        >
          <p>
            Two-factor sign-in is on since {new Date(status.data.enabled_at ?? '').toLocaleString()}; {status.data.recovery_codes_left} recovery codes left.
          </p>
          <div className="field">
            <label htmlFor="twofactor-off-code">Code</label>
            <input id="twofactor-off-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
          </div>
          {disable.isError && (
            <p className="form-error" role="alert">
              {errorMessage(disable.error)}
            </p>
          )}
          <button type="submit" className="button button-danger" disabled={disable.isPending}>
            Turn off
          </button>
        </form>
      ) : !setup.data ? (
        <div className="card">
          <p>Sign in with a code from an authenticator app (any TOTP app) as well as your password.</p>
          {setup.isError && (
            <p className="form-error" role="alert">
              {errorMessage(setup.error)}
            </p>
          )}
          <button type="button" className="button button-primary" onClick={() => setup.mutate()} disabled={setup.isPending}>
            Set up two-factor sign-in
          </button>
        </div>
      ) : (
        <form
          className="card form"
          aria-label="Confirm two-factor sign-in"
          onSubmit={(e) => {
            e.preventDefault();
            confirm.mutate(code.trim());
          }}
        >
          <p>Scan this code with your authenticator app, or type the key.</p>
          <img className="qr" src={setup.data.qr_svg} alt="QR code of the two-factor secret" width={220} height={220} />
          <p>
            Key: <code data-testid="totp-secret">{setup.data.secret}</code>
          </p>
          <div className="field">
            <label htmlFor="twofactor-code">Code from the app</label>
            <input id="twofactor-code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
          </div>
          {confirm.isError && (
            <p className="form-error" role="alert">
              {errorMessage(confirm.error)}
            </p>
          )}
          <button type="submit" className="button button-primary" disabled={confirm.isPending}>
            Confirm
          </button>
        </form>
      )}
    </section>
  );
}
