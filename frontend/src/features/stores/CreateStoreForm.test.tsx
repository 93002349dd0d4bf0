import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../api/errors';
import type { PlanOut, StoreCreated } from '../../client';
import { PLANS } from '../../test/fixtures';
import { CreateStoreForm } from './CreateStoreForm';
import { NAME_MESSAGE, PASSWORD_MESSAGE, emailError, nameError, passwordError } from './validation';

const created: StoreCreated = {
  id: 7, name: 'my-shop', status: 'pending', url: null, admin_url: null, admin_email: 'me@example.com',
  owner_id: 1, owner_email: 'me@example.com', driver: 'local', created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z', ready_at: null, deleted_at: null, failure_reason: null,
  current_step: null, progress: { done: 0, total: 0 }, admin_password: 'generated-secret',
  uid: 'a1b2c3d4e5f6', sample_products: true, plan: 'small', wordpress_version: '7.0.4', woocommerce_version: '11.0.1',
};

function setup(submit = vi.fn(async () => created), plans?: PlanOut[]) {
  const onCreated = vi.fn();
  const user = userEvent.setup();
  render(
    <CreateStoreForm defaultEmail="me@example.com" plans={plans} submit={submit} onCreated={onCreated} onCancel={() => {}} />,
  );
  return { user, submit, onCreated };
}

describe('store name rule (mirrors the API)', () => {
  it.each(['abc', 'my-shop', 'a1', 'shop-2024', 'a'.repeat(40)].filter((n) => n.length >= 3))('accepts %s', (name) => {
    expect(nameError(name)).toBeUndefined();
  });
  it.each(['ab', 'My-Shop', '1shop', 'shop-', 'sh_op', 'shop.example', 'a'.repeat(41), '', 'shop ', '-shop'])(
    'rejects %j with the API message',
    (name) => {
      expect(nameError(name)).toBe(NAME_MESSAGE);
    },
  );
});

describe('admin email and password rules', () => {
  it('gives the API validator reasons for bad emails', () => {
    expect(emailError('nope')).toBe('value is not a valid email address: An email address must have an @-sign.');
    expect(emailError('a@b')).toBe(
      'value is not a valid email address: The part after the @-sign is not valid. It should have a period.',
    );
    expect(emailError('@example.com')).toMatch(/something before the @-sign/);
    expect(emailError('me@example.com')).toBeUndefined();
  });
  it('takes no password, or 8-128 characters', () => {
    expect(passwordError('')).toBeUndefined();
    expect(passwordError('1234567')).toBe(PASSWORD_MESSAGE);
    expect(passwordError('12345678')).toBeUndefined();
    expect(passwordError('x'.repeat(128))).toBeUndefined();
    expect(passwordError('x'.repeat(129))).toBe(PASSWORD_MESSAGE);
  });
  it.each([' leading space', 'trailing space ', 'new\nline inside', 'tab\tinside!'])(
    'refuses %j, which WordPress could never sign in',
    (password) => {
      expect(passwordError(password)).toBe(PASSWORD_MESSAGE);
    },
  );
  it.each(['with "quotes"', "it's mine!", 'back\\slash', '$(x) `y` %s', 'Grüße 日本語'])('accepts %j', (password) => {
    expect(passwordError(password)).toBeUndefined();
  });
});

describe('CreateStoreForm', () => {
  it('shows every broken rule next to its field and does not submit', async () => {
    const { user, submit } = setup();
    await user.type(screen.getByLabelText('Store name'), 'Bad_Name-');
    await user.clear(screen.getByLabelText('Admin email'));
    await user.type(screen.getByLabelText('Admin email'), 'not-an-email');
    await user.type(screen.getByLabelText(/Admin password/), 'short');
    await user.click(screen.getByRole('button', { name: 'Create store' }));

    const name = screen.getByLabelText('Store name');
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription(expect.stringContaining(NAME_MESSAGE));
    expect(screen.getByLabelText('Admin email')).toHaveAccessibleDescription(
      expect.stringContaining('An email address must have an @-sign.'),
    );
    expect(screen.getByLabelText(/Admin password/)).toHaveAccessibleDescription(expect.stringContaining(PASSWORD_MESSAGE));
    expect(name).toHaveFocus();
    expect(submit).not.toHaveBeenCalled();
  });

  it('does not nag before the person has left a field or tried to submit', async () => {
    const { user } = setup();
    await user.type(screen.getByLabelText('Store name'), 'A');
    expect(screen.queryByText(NAME_MESSAGE)).toBeNull();
    await user.tab();
    expect(screen.getByText(NAME_MESSAGE)).toBeInTheDocument();
  });

  it('clears a message as soon as the value is fixed', async () => {
    const { user } = setup();
    await user.type(screen.getByLabelText('Store name'), 'ab');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    expect(screen.getByText(NAME_MESSAGE)).toBeInTheDocument();
    await user.type(screen.getByLabelText('Store name'), 'c');
    expect(screen.queryByText(NAME_MESSAGE)).toBeNull();
  });

  it('sends a valid store without an empty password', async () => {
    const { user, submit, onCreated } = setup();
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(created));
    expect(submit).toHaveBeenCalledWith({ name: 'my-shop', admin_email: 'me@example.com', sample_products: true });
  });

  it('leaves the sample products out when asked', async () => {
    const { user, submit } = setup();
    await user.type(screen.getByLabelText('Store name'), 'bare-shop');
    const samples = screen.getByLabelText('Add sample products') as HTMLInputElement;
    expect(samples.checked).toBe(true);
    await user.click(samples);
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() =>
      expect(submit).toHaveBeenCalledWith({ name: 'bare-shop', admin_email: 'me@example.com', sample_products: false }),
    );
  });

  it('generates a password and can show or hide it', async () => {
    const { user } = setup();
    const input = screen.getByLabelText(/Admin password/) as HTMLInputElement;
    await user.click(screen.getByRole('button', { name: 'Generate' }));
    expect(input.value).toHaveLength(20);
    expect(passwordError(input.value)).toBeUndefined();
    expect(input).toHaveAttribute('type', 'text');
    await user.click(screen.getByRole('button', { name: 'Hide' }));
    expect(input).toHaveAttribute('type', 'password');
  });

  it('puts a 409 "name taken" next to the name', async () => {
    const submit = vi.fn(async () => {
      throw new ApiError(409, "The name 'my-shop' is taken by another store");
    });
    const { user } = setup(submit);
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    const name = screen.getByLabelText('Store name');
    await waitFor(() => expect(name).toHaveAccessibleDescription(expect.stringContaining("The name 'my-shop' is taken")));
    expect(name).toHaveAttribute('aria-invalid', 'true');
  });

  it('shows a 429 quota answer above the buttons', async () => {
    const submit = vi.fn(async () => {
      throw new ApiError(429, 'Quota reached: at most 2 live stores per user. Delete a store to create another.');
    });
    const { user } = setup(submit);
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Quota reached: at most 2 live stores per user');
  });

  it('maps a 422 from the server onto the fields', async () => {
    const submit = vi.fn(async () => {
      throw ApiError.from(
        422,
        { detail: [{ loc: ['body', 'admin_email'], field: 'admin_email', msg: 'admin_email: value is not a valid email address: bad domain', type: 'value_error' }] },
        null,
      );
    });
    const { user } = setup(submit);
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() =>
      expect(screen.getByLabelText('Admin email')).toHaveAccessibleDescription(
        expect.stringContaining('value is not a valid email address: bad domain'),
      ),
    );
  });
});

describe('CreateStoreForm: the plan', () => {
  it('offers the plans the person may pick, in words, with the default chosen', async () => {
    const { user, submit } = setup(undefined, PLANS);
    const group = screen.getByRole('group', { name: 'Plan' });
    expect(group).toBeInTheDocument();
    const small = screen.getByRole('radio', { name: /small/ });
    const medium = screen.getByRole('radio', { name: /medium/ });
    expect(small).toBeChecked();
    expect(medium).not.toBeChecked();
    expect(screen.queryByRole('radio', { name: /large/ })).toBeNull(); // an admin's to give
    expect(small).toHaveAccessibleName('small (default): 512 MiB of memory, 1 CPU, 5 PHP workers');
    expect(medium).toHaveAccessibleName('medium: 1 GiB of memory, 2 CPUs, 13 PHP workers');
    expect(medium).toHaveAccessibleDescription('Serves 13 uncached requests at once, each up to 256 MiB; 20 GiB of storage.');

    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() =>
      expect(submit).toHaveBeenCalledWith({ name: 'my-shop', admin_email: 'me@example.com', sample_products: true, plan: 'small' }),
    );
  });

  it('sends the plan chosen', async () => {
    const { user, submit } = setup(undefined, PLANS);
    await user.type(screen.getByLabelText('Store name'), 'big-shop');
    await user.click(screen.getByRole('radio', { name: /medium/ }));
    expect(screen.getByRole('radio', { name: /small/ })).not.toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() =>
      expect(submit).toHaveBeenCalledWith({ name: 'big-shop', admin_email: 'me@example.com', sample_products: true, plan: 'medium' }),
    );
  });

  it('puts a refused plan (403) next to the plan choice, not above the buttons', async () => {
    const submit = vi.fn(async () => {
      throw new ApiError(403, "Plan 'medium' is for admins to give; members may pick small");
    });
    const { user, onCreated } = setup(submit, PLANS);
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('radio', { name: /medium/ }));
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    const medium = screen.getByRole('radio', { name: /medium/ });
    await waitFor(() => expect(medium).toHaveAccessibleDescription(expect.stringContaining("is for admins to give")));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(onCreated).not.toHaveBeenCalled();
    // Picking another plan clears it.
    await user.click(screen.getByRole('radio', { name: /small/ }));
    expect(screen.queryByText(/is for admins to give/)).toBeNull();
  });

  it('puts a 422 about the plan next to the plan choice', async () => {
    const submit = vi.fn(async () => {
      throw new ApiError(422, "plan: no plan 'medium' (plans: small, large)");
    });
    const { user } = setup(submit, PLANS);
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('radio', { name: /medium/ }));
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    expect(await screen.findByText("no plan 'medium' (plans: small, large)")).toHaveAttribute('data-field-error', 'plan');
  });

  it('shows no choice while the plans are unknown, and the platform gives its default', async () => {
    const { user, submit } = setup();
    expect(screen.queryByRole('group', { name: 'Plan' })).toBeNull();
    await user.type(screen.getByLabelText('Store name'), 'my-shop');
    await user.click(screen.getByRole('button', { name: 'Create store' }));
    await waitFor(() => expect(submit).toHaveBeenCalled());
    expect(submit.mock.calls[0]).not.toHaveProperty('0.plan');
  });
});
