/**
 * A store's plan, in words, and the control that gives it another one: a
 * resize operation (PATCH /api/stores/{id} {plan} → 202) whose steps show in
 * the page's "in progress" callout like any operation's. Members may pick the
 * plans marked `yours_to_pick`; admins any. The API's refusals — 403 (not
 * yours to pick), 409 (another operation runs, or the store is not ready),
 * 422 (no such plan) — show under the control.
 */
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { errorMessage } from '../../api/errors';
import type { StoreDetail } from '../../client';
import { useFleetPlans } from '../../hooks/queries/fleet';
import { useResizeStore } from '../../hooks/queries/stores';
import { pickablePlans, planDetails, planSummary } from './plans';

export function PlanCard({ store }: { store: StoreDetail }) {
  const id = useId();
  const plans = useFleetPlans();
  const resize = useResizeStore(store.id);
  const [picked, setPicked] = useState<string | null>(null);
  const wanted = picked ?? store.plan;
  const current = plans.data?.find((p) => p.name === store.plan);
  const choices = plans.data ? pickablePlans(plans.data) : [];
  const resizing = store.current_operation === 'resize';
  const canResize = (store.status === 'ready' || store.status === 'degraded') && !store.current_operation;
  const others = choices.filter((p) => p.name !== store.plan);

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (wanted !== store.plan) resize.mutate(wanted, { onSuccess: () => setPicked(null) });
  };
  const errorId = `${id}-error`;

  return (
    <div className="card" data-testid="plan-card">
      <h2>Plan</h2>
      <p data-testid="current-plan" data-plan={store.plan}>
        <strong>{store.plan}</strong>
        {current && <>: {planSummary(current)}</>}
      </p>
      {current && <p className="hint">{planDetails(current)}</p>}
      {resizing && (
        <p className="notice" role="status">
          Changing the plan{resize.variables ? ` to ${resize.variables}` : ''}: the store keeps serving meanwhile.
        </p>
      )}
      {plans.isError && <p className="form-error">The plans could not be read: {errorMessage(plans.error)}</p>}
      {plans.data && others.length === 0 && (
        <p className="muted">There is no other plan you may give this store; an admin can.</p>
      )}
      {others.length > 0 && (
        <form className="plan-change" onSubmit={onSubmit} aria-label="Change plan">
          <div className="field">
            <label htmlFor={`${id}-plan`}>New plan</label>
            <select
              id={`${id}-plan`}
              value={wanted}
              onChange={(e) => {
                setPicked(e.target.value);
                resize.reset();
              }}
              aria-describedby={resize.isError ? errorId : undefined}
              aria-invalid={resize.isError ? true : undefined}
            >
              {!choices.some((p) => p.name === store.plan) && <option value={store.plan}>{store.plan} (current)</option>}
              {choices.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                  {p.name === store.plan ? ' (current)' : ''}: {planSummary(p)}
                </option>
              ))}
            </select>
          </div>
          <button
            type="submit"
            className="button button-primary"
            disabled={!canResize || wanted === store.plan || resize.isPending}
          >
            {resize.isPending ? 'Changing…' : 'Change plan'}
          </button>
          {!canResize && !resizing && (
            <p className="hint">The plan can be changed while the store is ready and nothing else runs on it.</p>
          )}
        </form>
      )}
      {resize.isError && (
        <p className="field-error" id={errorId} role="alert">
          {errorMessage(resize.error)}
        </p>
      )}
    </div>
  );
}
