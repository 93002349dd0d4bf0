/** API tokens, webhooks and two-factor sign-in of the signed-in user. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  confirmTwoFactor,
  createToken,
  createWebhook,
  deleteWebhook,
  disableTwoFactor,
  listTokens,
  listWebhookDeliveries,
  listWebhooks,
  revokeToken,
  setupTwoFactor,
  twoFactorStatus,
} from '../../client';
import type { TokenCreate, WebhookCreate } from '../../client';
import { authKeys } from './auth';

export const integrationKeys = {
  tokens: ['tokens'] as const,
  webhooks: ['webhooks'] as const,
  deliveries: (id: number) => ['webhooks', id, 'deliveries'] as const,
  twoFactor: ['two-factor'] as const,
};

export function useTokens() {
  return useQuery({
    queryKey: integrationKeys.tokens,
    queryFn: async () => (await listTokens({ throwOnError: true })).data.items,
  });
}

export function useCreateToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: TokenCreate) => (await createToken({ body, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: integrationKeys.tokens }),
  });
}

export function useRevokeToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => (await revokeToken({ path: { token_id: id }, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: integrationKeys.tokens }),
  });
}

export function useWebhooks() {
  return useQuery({
    queryKey: integrationKeys.webhooks,
    queryFn: async () => (await listWebhooks({ throwOnError: true })).data.items,
  });
}

export function useCreateWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: WebhookCreate) => (await createWebhook({ body, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: integrationKeys.webhooks }),
  });
}

export function useDeleteWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      await deleteWebhook({ path: { webhook_id: id }, throwOnError: true });
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: integrationKeys.webhooks }),
  });
}

export function useDeliveries(id: number | null) {
  return useQuery({
    queryKey: integrationKeys.deliveries(id ?? 0),
    queryFn: async () =>
      (await listWebhookDeliveries({ path: { webhook_id: id ?? 0 }, throwOnError: true })).data.items,
    enabled: id !== null,
    refetchInterval: 3000,
  });
}

export function useTwoFactor() {
  return useQuery({
    queryKey: integrationKeys.twoFactor,
    queryFn: async () => (await twoFactorStatus({ throwOnError: true })).data,
  });
}

export function useSetupTwoFactor() {
  return useMutation({
    mutationFn: async () => (await setupTwoFactor({ throwOnError: true })).data,
  });
}

export function useConfirmTwoFactor() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (code: string) => (await confirmTwoFactor({ body: { code }, throwOnError: true })).data,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: integrationKeys.twoFactor });
      void qc.invalidateQueries({ queryKey: authKeys.me() });
    },
  });
}

export function useDisableTwoFactor() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (code: string) => (await disableTwoFactor({ body: { code }, throwOnError: true })).data,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: integrationKeys.twoFactor });
      void qc.invalidateQueries({ queryKey: authKeys.me() });
    },
  });
}
