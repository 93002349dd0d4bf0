/**
 * Configures the generated client once: same-origin base URL, the bearer
 * token on every request, errors thrown as ApiError, and a 401 on an
 * authenticated call ends the session.
 */
import { client } from '../client/client.gen';
import { ApiError } from './errors';
import { getToken, setToken } from './session';

let configured = false;

export function configureClient(): void {
  if (configured) return;
  configured = true;
  client.setConfig({
    baseUrl: '',
    throwOnError: true,
    auth: () => getToken() ?? undefined,
  });
  client.interceptors.error.use((error, response, request) => {
    if (!response) return error;
    const apiError = ApiError.from(response.status, error, response.headers.get('retry-after'));
    if (response.status === 401 && request.headers.has('authorization')) setToken(null);
    return apiError;
  });
}
