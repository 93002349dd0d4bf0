/**
 * Staging copies of a live store (docs/staging.md): the list, making one,
 * pushing one into its live store, refreshing it from live, extending it.
 * A push is an operation of the live store; a refresh, of the copy.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createStaging, extendStaging, listStaging, pushStaging, refreshStaging } from '../../client';
import type { PushRequest } from '../../client';
import { usePollInterval } from '../../live/LiveStatus';
import { storeKeys } from './stores';

export const stagingKeys = {
  copies: (liveId: number) => [...storeKeys.all, 'staging', liveId] as const,
};

export function useStagingCopies(liveId: number, enabled = true) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: stagingKeys.copies(liveId),
    queryFn: async ({ signal }) =>
      (await listStaging({ path: { store_id: liveId }, signal, throwOnError: true })).data,
    refetchInterval: poll || 10_000,
    enabled,
  });
}

function useInvalidate(liveId: number) {
  const qc = useQueryClient();
  return () => {
    void qc.invalidateQueries({ queryKey: stagingKeys.copies(liveId) });
    void qc.invalidateQueries({ queryKey: storeKeys.detail(liveId) });
    void qc.invalidateQueries({ queryKey: storeKeys.operations(liveId) });
    void qc.invalidateQueries({ queryKey: storeKeys.lists() });
  };
}

export function useCreateStaging(liveId: number) {
  const done = useInvalidate(liveId);
  return useMutation({
    mutationFn: async () => (await createStaging({ path: { store_id: liveId }, body: {}, throwOnError: true })).data,
    onSuccess: done,
  });
}

export function usePushStaging(liveId: number) {
  const done = useInvalidate(liveId);
  return useMutation({
    mutationFn: async ({ copyId, what }: { copyId: number; what: PushRequest['what'] }) =>
      (await pushStaging({ path: { store_id: copyId }, body: { what }, throwOnError: true })).data,
    onSuccess: done,
  });
}

export function useRefreshStaging(liveId: number) {
  const done = useInvalidate(liveId);
  return useMutation({
    mutationFn: async (copyId: number) =>
      (await refreshStaging({ path: { store_id: copyId }, throwOnError: true })).data,
    onSuccess: done,
  });
}

export function useExtendStaging(liveId: number) {
  const done = useInvalidate(liveId);
  return useMutation({
    mutationFn: async ({ copyId, days }: { copyId: number; days: number }) =>
      (await extendStaging({ path: { store_id: copyId }, body: { days }, throwOnError: true })).data,
    onSuccess: done,
  });
}
