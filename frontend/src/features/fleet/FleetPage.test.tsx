import { render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import type { FleetSummary, FleetUpgradeOut } from '../../client';
import { PhaseChart, UpgradeProgress } from './FleetPage';

const summary: FleetSummary = {
  phases: [
    { phase: 'pending', stores: 0 }, { phase: 'provisioning', stores: 1 }, { phase: 'ready', stores: 8 },
    { phase: 'degraded', stores: 1 }, { phase: 'suspended', stores: 0 }, { phase: 'failed', stores: 2 },
    { phase: 'deleting', stores: 0 }, { phase: 'deleted', stores: 4 },
  ],
  ready_seconds_p50: 42, ready_seconds_p95: 150, ready_samples: 12,
  releases: { wordpress: '7.0.4', woocommerce: '11.0.1', known: {} }, upgrade_in_progress: null,
};

const halted: FleetUpgradeOut = {
  id: 2, status: 'halted', wordpress: '7.0.4', woocommerce: '11.0.2', previous_wordpress: '7.0.4',
  previous_woocommerce: '11.0.1', waves: [1, 2], current_wave: 0,
  halted_reason: 'fleet-0 (store 1, wave 1): step upgrade: the installer failed; the store is restored',
  requested_by: 'admin@example.com', created_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:01:00Z',
  counts: { failed: 1, cancelled: 2 },
  stores: [
    { store_id: 1, name: 'fleet-0', wave: 0, status: 'failed', phase: 'ready', operation_id: 8, current_step: null,
      from_wordpress: '7.0.4', from_woocommerce: '11.0.1', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
      started_at: '2026-01-01T00:00:01Z', finished_at: '2026-01-01T00:00:30Z', duration_seconds: 29,
      failure_reason: 'step upgrade: the installer failed' },
    { store_id: 2, name: 'fleet-1', wave: 1, status: 'cancelled', phase: 'ready', operation_id: 9, current_step: null,
      from_wordpress: '7.0.4', from_woocommerce: '11.0.1', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
      started_at: null, finished_at: null, duration_seconds: null, failure_reason: 'cancelled: halted' },
  ],
};

describe('FleetPage', () => {
  it('charts stores by phase with the time to ready', () => {
    render(<PhaseChart summary={summary} />);
    const chart = screen.getByLabelText('Stores by phase');
    expect(within(chart).getByText('ready')).toBeInTheDocument();
    expect(chart.querySelector('[data-count="ready"]')?.textContent).toBe('8');
    expect(chart.querySelector('[data-phase-row="pending"]')).toBeNull(); // empty phases left out
    expect(screen.getByText('42 s')).toBeInTheDocument();
    expect(screen.getByText('2.5 min')).toBeInTheDocument();
  });

  it('shows why an upgrade halted and each store by wave', () => {
    render(
      <MemoryRouter>
        <UpgradeProgress upgrade={halted} />
      </MemoryRouter>,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('fleet-0 (store 1, wave 1): step upgrade');
    const rows = within(screen.getByRole('table', { name: /stores in this upgrade/i })).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('fleet-0');
    expect(rows[1]).toHaveTextContent('failed');
    expect(rows[2]).toHaveTextContent('cancelled');
    expect(screen.getByRole('link', { name: 'fleet-1' })).toHaveAttribute('href', '/stores/2');
  });
});
