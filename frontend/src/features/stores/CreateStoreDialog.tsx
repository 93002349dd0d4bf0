/**
 * The create-store modal: the form, then (when the platform generated the
 * admin password) the password, shown this once with a copy button.
 */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Modal } from '../../components/Modal';
import { CopyButton } from '../../components/CopyButton';
import type { StoreCreated } from '../../client';
import { useFleetPlans } from '../../hooks/queries/fleet';
import { useCreateStore } from '../../hooks/queries/stores';
import { CreateStoreForm } from './CreateStoreForm';

export function CreateStoreDialog({ defaultEmail, onClose }: { defaultEmail?: string; onClose: () => void }) {
  const create = useCreateStore();
  const plans = useFleetPlans();
  const [created, setCreated] = useState<StoreCreated | null>(null);

  if (created?.admin_password) {
    return (
      <Modal title={`${created.name} is being created`} onClose={onClose}>
        <div className="stack">
          <p>
            The store’s WordPress admin is <strong>{created.admin_email}</strong> with this generated password:
          </p>
          <div className="secret-row">
            <code className="secret" data-testid="generated-password">
              {created.admin_password}
            </code>
            <CopyButton value={created.admin_password} label="Copy password" />
          </div>
          <p className="warning" role="note">
            Copy it now: this password will not be shown again. StoreFleet does not keep it.
          </p>
          <div className="actions">
            <Link className="button" to={`/stores/${created.id}`} onClick={onClose}>
              View progress
            </Link>
            <button type="button" className="button button-primary" onClick={onClose}>
              I have saved it
            </button>
          </div>
        </div>
      </Modal>
    );
  }

  return (
    <Modal title="Create a store" onClose={onClose}>
      <CreateStoreForm
        defaultEmail={defaultEmail}
        plans={plans.data}
        submit={(body) => create.mutateAsync(body)}
        onCreated={(store) => (store.admin_password ? setCreated(store) : onClose())}
        onCancel={onClose}
      />
    </Modal>
  );
}
