/**
 * A store's backups: take one now, and restore one (behind a confirmation
 * that says what is replaced). Each backup shows what it holds and its state.
 */
import { useState } from 'react';
import { errorMessage } from '../../api/errors';
import type { BackupOut, StoreDetail } from '../../client';
import { Modal } from '../../components/Modal';
import { ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { useBackups, useRestoreBackup, useTakeBackup } from '../../hooks/queries/stores';

const BACKUP_PHASES = new Set(['ready', 'degraded', 'suspended']);
const RESTORE_PHASES = new Set(['ready', 'degraded', 'suspended', 'failed']);

function size(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes < 1 << 20) return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function RestoreDialog({ store, backup, onClose }: { store: StoreDetail; backup: BackupOut; onClose: () => void }) {
  const restore = useRestoreBackup(store.id);
  return (
    <Modal title={`Restore ${store.name} from backup ${backup.id}?`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          restore.mutate(backup.id, { onSuccess: onClose });
        }}
      >
        <p>
          The store’s database and files are replaced by those of {formatDateTime(backup.created_at)} (WordPress{' '}
          {backup.wordpress_version}, WooCommerce {backup.woocommerce_version}). Orders and changes made since then are
          lost. The store is unavailable for a minute while it is restored.
        </p>
        {restore.isError && (
          <p className="form-error" role="alert">
            {errorMessage(restore.error)}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-danger" disabled={restore.isPending}>
            {restore.isPending ? 'Restoring…' : 'Restore'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function BackupsCard({ store }: { store: StoreDetail }) {
  const gone = store.status === 'deleted';
  const backups = useBackups(store.id);
  const take = useTakeBackup(store.id);
  const [restoring, setRestoring] = useState<BackupOut | null>(null);
  const busy = Boolean(store.current_operation) || take.isPending;
  const canBackup = BACKUP_PHASES.has(store.status) && !busy;
  const canRestore = RESTORE_PHASES.has(store.status) && !busy && store.ready_at !== null;
  return (
    <div className="card">
      <div className="card-head">
        <h2>Backups</h2>
        {!gone && (
          <button type="button" className="button" onClick={() => take.mutate()} disabled={!canBackup}>
            {take.isPending ? 'Asking…' : 'Take backup'}
          </button>
        )}
      </div>
      <p className="muted">
        {store.backup_schedule_hours > 0
          ? `Backed up every ${store.backup_schedule_hours} hours${store.backup_schedule_is_default ? ' (the platform’s schedule)' : ''}.`
          : 'No scheduled backups.'}{' '}
        Each backup is the database and the store’s own files, encrypted.
      </p>
      {take.isError && (
        <p className="form-error" role="alert">
          {errorMessage(take.error)}
        </p>
      )}
      {backups.isPending && <Loading label="Loading backups…" />}
      {backups.isError && <ErrorState error={backups.error} />}
      {backups.data && backups.data.items.length === 0 && <p className="muted">No backups yet.</p>}
      {backups.data && backups.data.items.length > 0 && (
        <table className="table backups-table" aria-label="Backups, newest first">
          <thead>
            <tr>
              <th scope="col">Taken</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Size</th>
              <th scope="col">Releases</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {backups.data.items.map((b) => (
              <tr key={b.id} data-backup={b.id} data-state={b.status}>
                <td>
                  <time dateTime={b.created_at}>{formatDateTime(b.created_at)}</time>
                </td>
                <td>{b.kind}</td>
                <td title={b.failure_reason ?? undefined}>
                  {b.status === 'pending' ? 'Taking…' : b.status}
                  {b.status === 'failed' && b.failure_reason && <div className="muted small">{b.failure_reason}</div>}
                </td>
                <td>{size(b.size_bytes)}</td>
                <td>{b.wordpress_version ? `WP ${b.wordpress_version}, WC ${b.woocommerce_version}` : '—'}</td>
                <td>
                  {b.status === 'completed' && !gone && (
                    <button
                      type="button"
                      className="button button-small"
                      onClick={() => setRestoring(b)}
                      disabled={!canRestore}
                      aria-label={`Restore backup ${b.id}`}
                    >
                      Restore
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {restoring && <RestoreDialog store={store} backup={restoring} onClose={() => setRestoring(null)} />}
    </div>
  );
}
