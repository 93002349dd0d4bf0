/**
 * What a failed API call means to the dashboard: the HTTP status, the
 * server's message (`{"detail": string}`), the per-field messages of a 422
 * and the Retry-After of a 429, so a form can put each next to its field.
 */
export type FieldErrors = Record<string, string>;

type ValidationItem = { loc?: unknown[]; field?: string; msg?: string };

export class ApiError extends Error {
  readonly status: number;
  readonly fields: FieldErrors;
  readonly retryAfter: number | null;

  constructor(status: number, message: string, fields: FieldErrors = {}, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  static from(status: number, body: unknown, retryAfter: string | null): ApiError {
    const detail = (body as { detail?: unknown } | null)?.detail;
    const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
    if (Array.isArray(detail)) {
      const fields: FieldErrors = {};
      for (const item of detail as ValidationItem[]) {
        const field = item.field ?? String(item.loc?.[item.loc.length - 1] ?? 'request');
        // The API prefixes each message with its field ("name: ..."); the form
        // already shows the field's label, so drop the prefix.
        const msg = (item.msg ?? 'Invalid value').replace(new RegExp(`^${field}: `), '');
        fields[field] ??= msg;
      }
      const first = Object.values(fields)[0] ?? 'The request was not valid';
      return new ApiError(status, first, fields, seconds);
    }
    if (typeof detail === 'string') return new ApiError(status, detail, {}, seconds);
    return new ApiError(status, status >= 500 ? 'The server had a problem; try again shortly' : `Request failed (HTTP ${status})`, {}, seconds);
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'Cannot reach the StoreFleet API; check your connection';
  if (error instanceof Error) return error.message;
  return 'Something went wrong';
}
