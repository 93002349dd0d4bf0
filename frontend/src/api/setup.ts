/**
 * Configures the generated client once: same-origin base URL, the session
 * cookie sent by the browser (never a token in script), the CSRF token on
 * every request that changes something, errors thrown as ApiError, and a 401
 * while signed in ends the session.
 */
import { client } from '../client/client.gen';
import { ApiError } from './errors';
import { csrfToken, isSignedIn, setSignedIn } from './session';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
let configured = false;

export function configureClient(): void {
  if (configured) return;
  configured = true;
  client.setConfig({ baseUrl: '', throwOnError: true, credentials: 'same-origin' });
  client.interceptors.request.use((request) => {
    const csrf = csrfToken();
    if (csrf && !SAFE.has(request.method)) request.headers.set('X-CSRF-Token', csrf);
    return request;
  });
  client.interceptors.error.use((error, response) => {
    if (!response) return error;
    const apiError = ApiError.from(response.status, error, response.headers.get('retry-after'));
    if (response.status === 401 && isSignedIn()) setSignedIn(false);
    return apiError;
  });
}
