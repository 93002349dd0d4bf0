/**
 * A store's phase as a badge: a word and a shape as well as a colour, so it
 * reads without colour vision too. Busy phases spin.
 */
import type { Phase, StepStatus } from '../client';

const PHASES: Record<Phase, { label: string; tone: string; busy?: boolean }> = {
  pending: { label: 'Pending', tone: 'neutral', busy: true },
  provisioning: { label: 'Provisioning', tone: 'info', busy: true },
  ready: { label: 'Ready', tone: 'success' },
  degraded: { label: 'Degraded', tone: 'warning' },
  suspended: { label: 'Suspended', tone: 'muted' },
  failed: { label: 'Failed', tone: 'danger' },
  deleting: { label: 'Deleting', tone: 'warning', busy: true },
  deleted: { label: 'Deleted', tone: 'muted' },
};

export function StatusBadge({ status }: { status: Phase }) {
  const phase = PHASES[status] ?? { label: status, tone: 'neutral' };
  return (
    <span className={`badge badge-${phase.tone}`} data-status={status}>
      <span className={phase.busy ? 'badge-icon spin' : 'badge-icon'} aria-hidden="true" />
      {phase.label}
    </span>
  );
}

const STEP_LABELS: Record<StepStatus, string> = {
  pending: 'Waiting',
  running: 'Running',
  succeeded: 'Done',
  skipped: 'Skipped',
  failed: 'Failed',
};

export function stepStatusLabel(status: StepStatus): string {
  return STEP_LABELS[status] ?? status;
}
