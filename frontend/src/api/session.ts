/**
 * The signed-in session: the bearer token lives in localStorage so a reload
 * or a second tab stays signed in; listeners hear when it changes (sign-in,
 * sign-out, or a 401 from any request).
 */
const KEY = 'storefleet.token';

type Listener = (token: string | null) => void;
const listeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function getToken(): string | null {
  return storage()?.getItem(KEY) ?? null;
}

export function setToken(token: string | null): void {
  const s = storage();
  if (token) s?.setItem(KEY, token);
  else s?.removeItem(KEY);
  for (const fn of listeners) fn(token);
}

export function onTokenChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
