/**
 * The dashboard shell: the session decides between the sign-in page and the
 * signed-in app; the signed-in app has the navigation, the live store stream
 * and the routes. Admin pages are routed for admins only.
 */
import { useEffect, useRef, useState } from 'react';
import { NavLink, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from './api/errors';
import { isSignedIn, onSessionChange } from './api/session';
import type { Me } from './client';
import { ErrorState, Loading } from './components/States';
import { AuditPage } from './features/admin/AuditPage';
import { UsersPage } from './features/admin/UsersPage';
import { FleetPage } from './features/fleet/FleetPage';
import { TokensPage } from './features/account/TokensPage';
import { TwoFactorPage } from './features/account/TwoFactorPage';
import { WebhooksPage } from './features/account/WebhooksPage';
import { SignInPage } from './features/auth/SignInPage';
import { StoreDetailPage } from './features/stores/StoreDetailPage';
import { StoresPage } from './features/stores/StoresPage';
import { useLogout, useMe } from './hooks/queries/auth';
import { LiveStatusProvider } from './live/LiveStatus';

function Shell({ me, children }: { me: Me; children: React.ReactNode }) {
  const isAdmin = me.role === 'admin';
  const { pathname } = useLocation();
  const inStores = pathname.startsWith('/stores/');
  const mainRef = useRef<HTMLElement>(null);
  const logout = useLogout();
  const firstPath = useRef(pathname);
  useEffect(() => {
    // After an in-app navigation, start keyboard and screen-reader users at the new page.
    if (pathname !== firstPath.current) {
      firstPath.current = '';
      mainRef.current?.focus({ preventScroll: true });
    }
  }, [pathname]);
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" /> StoreFleet
        </div>
        <nav aria-label="Main" className="nav">
          <NavLink to="/" end className={({ isActive }) => (isActive || inStores ? 'active' : undefined)}>
            Stores
          </NavLink>
          {isAdmin && <NavLink to="/admin/fleet">Fleet</NavLink>}
          {isAdmin && <NavLink to="/admin/users">Users</NavLink>}
          {isAdmin && <NavLink to="/admin/audit">Audit log</NavLink>}
          <NavLink to="/account/tokens">API tokens</NavLink>
          <NavLink to="/account/webhooks">Webhooks</NavLink>
          <NavLink to="/account/two-factor">Two-factor</NavLink>
        </nav>
        <div className="account">
          <span className="account-email" title={`Signed in as ${me.email} (${me.role})`}>
            {me.email}
          </span>
          <button type="button" className="button button-small" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1} ref={mainRef}>
        {children}
      </main>
    </div>
  );
}

function NotFound() {
  return <ErrorState error={new Error('There is no page here.')} />;
}

function SignedIn() {
  const me = useMe();
  if (me.isPending) return <Loading label="Signing in…" />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  const isAdmin = me.data.role === 'admin';
  if (me.data.two_factor_required) {
    // An admin without two-factor sign-in while the platform requires it: enrolment only.
    return (
      <Shell me={me.data}>
        <TwoFactorPage required />
      </Shell>
    );
  }
  return (
    <LiveStatusProvider>
      <Shell me={me.data}>
        <Routes>
          <Route path="/" element={<StoresPage me={me.data} />} />
          <Route path="/stores/:storeId" element={<StoreDetailPage />} />
          <Route path="/admin/users" element={isAdmin ? <UsersPage selfId={me.data.id} /> : <Navigate to="/" replace />} />
          <Route path="/admin/audit" element={isAdmin ? <AuditPage /> : <Navigate to="/" replace />} />
          <Route path="/admin/fleet" element={isAdmin ? <FleetPage /> : <Navigate to="/" replace />} />
          <Route path="/account/tokens" element={<TokensPage me={me.data} />} />
          <Route path="/account/webhooks" element={<WebhooksPage me={me.data} />} />
          <Route path="/account/two-factor" element={<TwoFactorPage />} />
          <Route path="/signin" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Shell>
    </LiveStatusProvider>
  );
}

export function App() {
  const qc = useQueryClient();
  const [signedIn, setSignedInState] = useState<boolean>(isSignedIn);
  const [notice, setNotice] = useState<string | null>(null);
  const wasSignedIn = useRef(signedIn);

  // Signing in or out (here, in another tab, or by a 401) starts from an empty cache.
  useEffect(
    () =>
      onSessionChange((next) => {
        qc.clear();
        if (!next && wasSignedIn.current) setNotice('You were signed out. Sign in again to continue.');
        if (next) setNotice(null);
        wasSignedIn.current = next;
        setSignedInState(next);
      }),
    [qc],
  );

  if (!signedIn) return <SignInPage notice={notice} />;
  return <SignedIn />;
}

export function shouldRetry(failureCount: number, error: unknown): boolean {
  if (error instanceof ApiError && error.status < 500) return false;
  return failureCount < 2;
}
