/**
 * Users (admins): create accounts, disable or enable them, and set each
 * one's quotas (empty means the platform default).
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, errorMessage } from '../../api/errors';
import type { Role, UserOut } from '../../client';
import { Modal } from '../../components/Modal';
import { Pagination } from '../../components/Pagination';
import { Empty, ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { useCreateUser, useUpdateUser, useUsers } from '../../hooks/queries/users';
import { usePageTitle } from '../../components/usePageTitle';

const PAGE = 100;

function quota(value: string): number | null {
  return value.trim() === '' ? null : Number(value);
}

function quotaError(value: string): string | undefined {
  if (value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= 10000 ? undefined : 'A whole number from 0 to 10000, or empty for the default';
}

function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const create = useCreateUser();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [maxLive, setMaxLive] = useState('');
  const [maxPerHour, setMaxPerHour] = useState('');
  const [attempted, setAttempted] = useState(false);

  const errors: Record<string, string | undefined> = {
    email: /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim()) ? undefined : 'Enter a valid email address',
    password: password.length >= 8 && password.length <= 128 ? undefined : 'Password must be 8-128 characters',
    max_live_stores: quotaError(maxLive),
    max_creations_per_hour: quotaError(maxPerHour),
  };
  const server = create.error instanceof ApiError ? create.error : null;
  const shown = (f: string) => server?.fields[f] ?? (server?.status === 409 && f === 'email' ? server.message : undefined) ?? (attempted ? errors[f] : undefined);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    if (Object.values(errors).some(Boolean)) return;
    create.mutate(
      { email: email.trim(), password, role, max_live_stores: quota(maxLive), max_creations_per_hour: quota(maxPerHour) },
      { onSuccess: onClose },
    );
  };

  const err = (f: string) =>
    shown(f) ? (
      <p className="field-error" id={`user-${f}-error`}>
        {shown(f)}
      </p>
    ) : null;
  const a11y = (f: string) => ({ 'aria-invalid': shown(f) ? true : undefined, 'aria-describedby': shown(f) ? `user-${f}-error` : undefined });

  return (
    <Modal title="Create a user" onClose={onClose}>
      <form className="form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="user-email">Email</label>
          <input id="user-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoFocus {...a11y('email')} />
          {err('email')}
        </div>
        <div className="field">
          <label htmlFor="user-password">Initial password</label>
          <input id="user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} {...a11y('password')} />
          {err('password')}
        </div>
        <div className="field">
          <label htmlFor="user-role">Role</label>
          <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="member">Member (own stores only)</option>
            <option value="admin">Admin (everything)</option>
          </select>
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor="user-max-live">Max live stores</label>
            <input id="user-max-live" inputMode="numeric" placeholder="default" value={maxLive} onChange={(e) => setMaxLive(e.target.value)} {...a11y('max_live_stores')} />
            {err('max_live_stores')}
          </div>
          <div className="field">
            <label htmlFor="user-max-hour">Max creations per hour</label>
            <input id="user-max-hour" inputMode="numeric" placeholder="default" value={maxPerHour} onChange={(e) => setMaxPerHour(e.target.value)} {...a11y('max_creations_per_hour')} />
            {err('max_creations_per_hour')}
          </div>
        </div>
        {create.isError && !server?.fields && <p className="form-error" role="alert">{errorMessage(create.error)}</p>}
        {server && server.status !== 409 && Object.keys(server.fields).length === 0 && (
          <p className="form-error" role="alert">
            {server.message}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            Create user
          </button>
        </div>
      </form>
    </Modal>
  );
}

function UserRow({ user, isSelf }: { user: UserOut; isSelf: boolean }) {
  const update = useUpdateUser();
  const [maxLive, setMaxLive] = useState(user.max_live_stores?.toString() ?? '');
  const [maxPerHour, setMaxPerHour] = useState(user.max_creations_per_hour?.toString() ?? '');
  const dirty = maxLive !== (user.max_live_stores?.toString() ?? '') || maxPerHour !== (user.max_creations_per_hour?.toString() ?? '');
  const invalid = quotaError(maxLive) ?? quotaError(maxPerHour);

  return (
    <tr data-user={user.email}>
      <th scope="row" data-label="User">
        {user.email}
      </th>
      <td data-label="Role">{user.role}</td>
      <td data-label="Status">
        <span className={user.is_active ? 'badge badge-success' : 'badge badge-muted'}>
          <span className="badge-icon" aria-hidden="true" />
          {user.is_active ? 'Active' : 'Disabled'}
        </span>
      </td>
      <td data-label="Quotas">
        <form
          className="quota-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!invalid) update.mutate({ id: user.id, body: { max_live_stores: quota(maxLive), max_creations_per_hour: quota(maxPerHour) } });
          }}
        >
          <label>
            <span className="visually-hidden">Max live stores for {user.email}</span>
            <input inputMode="numeric" placeholder="default" value={maxLive} onChange={(e) => setMaxLive(e.target.value)} aria-invalid={quotaError(maxLive) ? true : undefined} />
            <span aria-hidden="true"> live</span>
          </label>
          <label>
            <span className="visually-hidden">Max creations per hour for {user.email}</span>
            <input inputMode="numeric" placeholder="default" value={maxPerHour} onChange={(e) => setMaxPerHour(e.target.value)} aria-invalid={quotaError(maxPerHour) ? true : undefined} />
            <span aria-hidden="true"> /hour</span>
          </label>
          {dirty && (
            <button type="submit" className="button button-small" disabled={Boolean(invalid) || update.isPending}>
              Save
            </button>
          )}
          {invalid && <p className="field-error">{invalid}</p>}
          {update.isError && <p className="field-error" role="alert">{errorMessage(update.error)}</p>}
        </form>
      </td>
      <td data-label="Created">{formatDateTime(user.created_at)}</td>
      <td data-label="Actions" className="cell-actions">
        {!isSelf && (
          <button
            type="button"
            className={user.is_active ? 'button button-small button-danger-outline' : 'button button-small'}
            onClick={() => update.mutate({ id: user.id, body: { is_active: !user.is_active } })}
            disabled={update.isPending}
            aria-label={`${user.is_active ? 'Disable' : 'Enable'} ${user.email}`}
          >
            {user.is_active ? 'Disable' : 'Enable'}
          </button>
        )}
      </td>
    </tr>
  );
}

export function UsersPage({ selfId }: { selfId: number }) {
  const [offset, setOffset] = useState(0);
  const [creating, setCreating] = useState(false);
  const users = useUsers({ limit: PAGE, offset });
  usePageTitle('Users');
  return (
    <section className="page" aria-labelledby="users-title">
      <header className="page-head">
        <div>
          <h1 id="users-title">Users</h1>
          <p className="muted">Quotas left empty use the platform defaults.</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
          Create user
        </button>
      </header>
      {users.isPending ? (
        <Loading label="Loading users…" />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : users.data.items.length === 0 ? (
        <Empty title="No users" />
      ) : (
        <>
          <table className="table users-table">
            <caption className="visually-hidden">Users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Quotas (live stores, creations per hour)</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.items.map((u) => (
                <UserRow key={`${u.id}-${u.max_live_stores}-${u.max_creations_per_hour}`} user={u} isSelf={u.id === selfId} />
              ))}
            </tbody>
          </table>
          <Pagination label="Users pages" offset={offset} limit={PAGE} total={users.data.total} onOffset={setOffset} />
        </>
      )}
      {creating && <CreateUserDialog onClose={() => setCreating(false)} />}
    </section>
  );
}
