/**
 * Sign in. Wrong credentials and throttling are said plainly, as the API words them.
 * When the account has two-factor sign-in the API answers 401 with
 * `X-StoreFleet-OTP: required` (its message names the code): the code field appears.
 */
import { useState } from 'react';
import { ApiError, errorMessage } from '../../api/errors';
import { useLogin } from '../../hooks/queries/auth';
import { usePageTitle } from '../../components/usePageTitle';

export function SignInPage({ notice }: { notice?: string | null }) {
  const login = useLogin();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [needsOtp, setNeedsOtp] = useState(false);
  usePageTitle('Sign in');
  const otpAsked = login.isError && login.error instanceof ApiError && login.error.status === 401 && /two-factor/i.test(login.error.message);
  if (otpAsked && !needsOtp) setNeedsOtp(true);

  let error: string | null = null;
  if (login.isError) {
    const e = login.error;
    if (e instanceof ApiError && e.status === 422) error = 'Enter your email and password.';
    else if (otpAsked && !otp) error = 'Enter the code from your authenticator app (or a recovery code).';
    else if (e instanceof ApiError && e.status === 429 && e.retryAfter)
      error = `${e.message} (try again in ${Math.ceil(e.retryAfter / 60)} min)`;
    else error = errorMessage(e);
  }

  return (
    <main className="signin" id="main">
      <form
        className="card signin-card form"
        aria-labelledby="signin-title"
        onSubmit={(e) => {
          e.preventDefault();
          login.mutate({ email: email.trim(), password, otp: needsOtp && otp.trim() ? otp.trim() : undefined });
        }}
      >
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark" /> StoreFleet
        </div>
        <h1 id="signin-title">Sign in</h1>
        {notice && !error && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <div className="field">
          <label htmlFor="signin-email">Email</label>
          <input id="signin-email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
        </div>
        <div className="field">
          <label htmlFor="signin-password">Password</label>
          <input
            id="signin-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        {needsOtp && (
          <div className="field">
            <label htmlFor="signin-otp">Two-factor code</label>
            <input
              id="signin-otp"
              inputMode="numeric"
              autoComplete="one-time-code"
              value={otp}
              onChange={(e) => setOtp(e.target.value)}
              required
              autoFocus
            />
          </div>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary button-block" disabled={login.isPending}>
          {login.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
