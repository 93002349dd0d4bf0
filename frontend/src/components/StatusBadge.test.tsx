import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Phase } from '../client';
import { StatusBadge } from './StatusBadge';

const CASES: [Phase, string, string][] = [
  ['pending', 'Pending', 'badge-neutral'],
  ['provisioning', 'Provisioning', 'badge-info'],
  ['ready', 'Ready', 'badge-success'],
  ['failed', 'Failed', 'badge-danger'],
  ['deleting', 'Deleting', 'badge-warning'],
  ['deleted', 'Deleted', 'badge-muted'],
];

describe('StatusBadge', () => {
  it.each(CASES)('shows %s as the word "%s" in its own tone', (status, label, tone) => {
    render(<StatusBadge status={status} />);
    const badge = screen.getByText(label);
    expect(badge).toHaveClass('badge', tone);
    expect(badge).toHaveAttribute('data-status', status);
  });

  it('spins only while the store is changing on its own', () => {
    const { container, rerender } = render(<StatusBadge status="provisioning" />);
    expect(container.querySelector('.spin')).not.toBeNull();
    rerender(<StatusBadge status="ready" />);
    expect(container.querySelector('.spin')).toBeNull();
    rerender(<StatusBadge status="deleting" />);
    expect(container.querySelector('.spin')).not.toBeNull();
  });

  it('keeps the icon out of the accessible name', () => {
    render(<StatusBadge status="failed" />);
    expect(screen.getByText('Failed').querySelector('[aria-hidden="true"]')).not.toBeNull();
    expect(screen.getByText('Failed')).toHaveTextContent(/^Failed$/);
  });
});
