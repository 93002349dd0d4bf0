/**
 * The API's rules for a new store (src/storefleet/stores/schemas.py), checked
 * in the browser first with the same messages, so a person sees the same
 * words whether the browser or the server caught the mistake.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
export const NAME_MESSAGE =
  'Store name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen';
export const PASSWORD_MESSAGE =
  'Admin password must be 8-128 characters, without spaces at either end and without control characters';
const EMAIL_PREFIX = 'value is not a valid email address: ';

export type StoreForm = { name: string; admin_email: string; admin_password: string };
export type StoreFormErrors = Partial<Record<keyof StoreForm, string>>;

export function nameError(name: string): string | undefined {
  return NAME_PATTERN.test(name) ? undefined : NAME_MESSAGE;
}

/** The reasons the API's email validator gives, for the common mistakes. */
export function emailError(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at < 0) return EMAIL_PREFIX + 'An email address must have an @-sign.';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (!local) return EMAIL_PREFIX + 'There must be something before the @-sign.';
  if (!domain) return EMAIL_PREFIX + 'There must be something after the @-sign.';
  if (/\s/.test(email)) return EMAIL_PREFIX + 'The email address contains invalid characters.';
  if (!domain.includes('.') || domain.startsWith('.') || domain.endsWith('.'))
    return EMAIL_PREFIX + 'The part after the @-sign is not valid. It should have a period.';
  if (email.length > 254) return EMAIL_PREFIX + 'The email address is too long.';
  return undefined;
}

export function passwordError(password: string): string | undefined {
  if (password === '') return undefined; // optional: the platform generates one
  const ok =
    password.length >= 8 &&
    password.length <= 128 &&
    password === password.trim() &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(password);
  return ok ? undefined : PASSWORD_MESSAGE;
}

export function validateStoreForm(form: StoreForm): StoreFormErrors {
  const errors: StoreFormErrors = {};
  const name = nameError(form.name);
  if (name) errors.name = name;
  const email = emailError(form.admin_email.trim());
  if (email) errors.admin_email = email;
  const password = passwordError(form.admin_password);
  if (password) errors.admin_password = password;
  return errors;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function generatePassword(length = 20): string {
  const bytes = new Uint32Array(length);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('');
}
