/**
 * The new-store form. Checks the API's rules as the person types (after the
 * first attempt or once a field is left) and puts the server's answers next
 * to the field they are about: 422 per field, 409 "name taken" on the name,
 * a refused plan (403, 422) on the plan choice, 429 quota and rate limits
 * above the buttons. The plan choice lists the plans the person may pick
 * (GET /api/fleet/plans), the platform's default preselected; while they
 * load, or when they cannot be read, the store gets the default plan.
 */
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, errorMessage } from '../../api/errors';
import type { PlanOut, StoreCreate, StoreCreated } from '../../client';
import { initialPlan, pickablePlans, planDetails, planSummary } from './plans';
import { generatePassword, validateStoreForm } from './validation';
import type { StoreForm, StoreFormErrors } from './validation';

type Props = {
  defaultEmail?: string;
  /** The platform's plans; undefined while loading or when they could not be read. */
  plans?: PlanOut[];
  submit: (body: StoreCreate) => Promise<StoreCreated>;
  onCreated: (store: StoreCreated) => void;
  onCancel: () => void;
};

const FIELDS: (keyof StoreForm)[] = ['name', 'admin_email', 'admin_password'];

export function CreateStoreForm({ defaultEmail = '', plans, submit, onCreated, onCancel }: Props) {
  const id = useId();
  const [form, setForm] = useState<StoreForm>({ name: '', admin_email: defaultEmail, admin_password: '' });
  const [touched, setTouched] = useState<Partial<Record<keyof StoreForm, boolean>>>({});
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<StoreFormErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [showPassword, setShowPassword] = useState(false);
  const [sampleProducts, setSampleProducts] = useState(true);
  const [pickedPlan, setPickedPlan] = useState<string | undefined>(undefined);
  const [planError, setPlanError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const choices = plans ? pickablePlans(plans) : [];
  const plan = pickedPlan ?? (plans ? initialPlan(plans) : undefined);

  const clientErrors = validateStoreForm(form);
  const visible = (field: keyof StoreForm) =>
    serverErrors[field] ?? (attempted || touched[field] ? clientErrors[field] : undefined);

  const update = (field: keyof StoreForm, value: string) => {
    setForm((f) => ({ ...f, [field]: value }));
    setServerErrors((e) => ({ ...e, [field]: undefined }));
    setFormError(null);
  };

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setAttempted(true);
    const errors = validateStoreForm(form);
    const firstBad = FIELDS.find((f) => errors[f]);
    if (firstBad) {
      document.getElementById(`${id}-${firstBad}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const body: StoreCreate = {
        name: form.name,
        admin_email: form.admin_email.trim(),
        sample_products: sampleProducts,
      };
      if (form.admin_password) body.admin_password = form.admin_password;
      if (plan) body.plan = plan;
      onCreated(await submit(body));
    } catch (error) {
      const aboutPlan =
        error instanceof ApiError &&
        (error.status === 403 || error.status === 422) &&
        (Boolean(error.fields.plan) || /\bplan\b/i.test(error.message));
      if (aboutPlan) {
        setPlanError(error.fields.plan ?? error.message.replace(/^plan: /, ''));
        document.getElementById(`${id}-plan-${plan}`)?.focus();
      } else if (error instanceof ApiError && error.status === 422 && Object.keys(error.fields).length) {
        setServerErrors(error.fields as StoreFormErrors);
      } else if (error instanceof ApiError && error.status === 409) {
        setServerErrors({ name: error.message });
        document.getElementById(`${id}-name`)?.focus();
      } else {
        setFormError(errorMessage(error));
      }
    } finally {
      setBusy(false);
    }
  };

  const field = (name: keyof StoreForm) => {
    const error = visible(name);
    return {
      id: `${id}-${name}`,
      name,
      value: form[name],
      'aria-invalid': error ? true : undefined,
      'aria-describedby': `${id}-${name}-hint ${error ? `${id}-${name}-error` : ''}`.trim(),
      onChange: (e: { target: { value: string } }) => update(name, e.target.value),
      onBlur: () => setTouched((t) => ({ ...t, [name]: true })),
    };
  };

  const errorText = (name: keyof StoreForm) => {
    const error = visible(name);
    return error ? (
      <p className="field-error" id={`${id}-${name}-error`} data-field-error={name}>
        {error}
      </p>
    ) : null;
  };

  return (
    <form className="form" onSubmit={onSubmit} noValidate aria-label="Create store">
      <div className="field">
        <label htmlFor={`${id}-name`}>Store name</label>
        <input {...field('name')} autoComplete="off" autoCapitalize="none" spellCheck={false} autoFocus required />
        <p className="hint" id={`${id}-name-hint`}>
          Lowercase letters, digits and hyphens; becomes part of the store’s address.
        </p>
        {errorText('name')}
      </div>
      <div className="field">
        <label htmlFor={`${id}-admin_email`}>Admin email</label>
        <input {...field('admin_email')} type="email" autoComplete="email" required />
        <p className="hint" id={`${id}-admin_email-hint`}>
          The WordPress administrator of the new store.
        </p>
        {errorText('admin_email')}
      </div>
      <div className="field">
        <label htmlFor={`${id}-admin_password`}>
          Admin password <span className="optional">(optional)</span>
        </label>
        <div className="input-row">
          <input {...field('admin_password')} type={showPassword ? 'text' : 'password'} autoComplete="new-password" />
          <button
            type="button"
            className="button"
            aria-pressed={showPassword}
            aria-controls={`${id}-admin_password`}
            onClick={() => setShowPassword((s) => !s)}
          >
            {showPassword ? 'Hide' : 'Show'}
          </button>
          <button
            type="button"
            className="button"
            onClick={() => {
              update('admin_password', generatePassword());
              setShowPassword(true);
            }}
          >
            Generate
          </button>
        </div>
        <p className="hint" id={`${id}-admin_password-hint`}>
          8-128 characters, no spaces at either end. Leave empty and StoreFleet generates one and shows
          it once.
        </p>
        {errorText('admin_password')}
      </div>
      {choices.length > 0 && (
        <fieldset className="field plan-choice">
          <legend>Plan</legend>
          {choices.map((p) => (
            <div className="plan-option" key={p.name}>
              <input
                type="radio"
                id={`${id}-plan-${p.name}`}
                name="plan"
                value={p.name}
                checked={plan === p.name}
                onChange={() => {
                  setPickedPlan(p.name);
                  setPlanError(null);
                }}
                aria-describedby={`${id}-plan-${p.name}-hint${planError ? ` ${id}-plan-error` : ''}`}
              />
              <label htmlFor={`${id}-plan-${p.name}`}>
                <strong>{p.name}</strong>
                {p.default ? ' (default)' : ''}: {planSummary(p)}
              </label>
              <p className="hint" id={`${id}-plan-${p.name}-hint`}>
                {planDetails(p)}
              </p>
            </div>
          ))}
          {planError && (
            <p className="field-error" id={`${id}-plan-error`} data-field-error="plan">
              {planError}
            </p>
          )}
        </fieldset>
      )}
      <div className="field field-check">
        <input
          id={`${id}-sample_products`}
          name="sample_products"
          type="checkbox"
          checked={sampleProducts}
          onChange={(e) => setSampleProducts(e.target.checked)}
          aria-describedby={`${id}-sample_products-hint`}
        />
        <label htmlFor={`${id}-sample_products`}>Add sample products</label>
        <p className="hint" id={`${id}-sample_products-hint`}>
          A dozen products from WooCommerce’s sample data, so the shop can take an order at once.
        </p>
      </div>
      {formError && (
        <p className="form-error" role="alert">
          {formError}
        </p>
      )}
      <div className="actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create store'}
        </button>
      </div>
    </form>
  );
}
