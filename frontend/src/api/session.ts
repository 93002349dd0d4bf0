/**
 * The signed-in session. The access token lives in an HttpOnly cookie that no
 * script on this page can read (nor any script injected into it); the page
 * only knows whether it is signed in, and the CSRF token it sends back with
 * every request that changes something. That token comes from the readable
 * `sf_csrf` cookie (`__Host-sf_csrf` over https), so a reload stays signed in.
 * Other tabs hear of signing in and out through a BroadcastChannel.
 */
const CSRF_COOKIES = ['__Host-sf_csrf', 'sf_csrf'];

type Listener = (signedIn: boolean) => void;
const listeners = new Set<Listener>();

/** The CSRF token of the current session, or null when there is none. */
export function csrfToken(): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq > 0 && CSRF_COOKIES.includes(name)) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

// A hint on load (the cookies outlive a reload); /api/auth/me decides.
let signedIn = csrfToken() !== null;

const channel: BroadcastChannel | null =
  typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('storefleet-session');

function notify(value: boolean): void {
  signedIn = value;
  for (const fn of listeners) fn(value);
}

channel?.addEventListener('message', (event: MessageEvent) => notify(Boolean(event.data)));

export function isSignedIn(): boolean {
  return signedIn;
}

/** Signed in (the server set the cookies) or out (they are gone or refused). */
export function setSignedIn(value: boolean): void {
  if (value === signedIn) return;
  notify(value);
  channel?.postMessage(value);
}

export function onSessionChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
