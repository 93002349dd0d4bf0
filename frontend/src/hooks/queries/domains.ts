/**
 * A store's custom domains: the list (polled while one is on its way), and
 * the add / remove mutations. Adding or removing one also refreshes the
 * store (its address and its operations change when the worker acts).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { addDomain, listDomains, removeDomain } from '../../client';
import type { DomainCreate, DomainOut } from '../../client';
import { storeKeys } from './stores';

export const domainKeys = {
  list: (storeId: number) => [...storeKeys.all, 'domains', storeId] as const,
};

/** Statuses that change without anyone asking (the proof, the certificate). */
const MOVING: ReadonlySet<DomainOut['status']> = new Set(['pending', 'verified', 'removing']);

export function useDomains(storeId: number, pollMs = 3_000) {
  return useQuery({
    queryKey: domainKeys.list(storeId),
    queryFn: async ({ signal }) =>
      (await listDomains({ path: { store_id: storeId }, signal, throwOnError: true })).data,
    refetchInterval: (query) => ((query.state.data ?? []).some((d) => MOVING.has(d.status)) ? pollMs : false),
  });
}

export function useAddDomain(storeId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: DomainCreate) =>
      (await addDomain({ path: { store_id: storeId }, body, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: domainKeys.list(storeId) }),
  });
}

export function useRemoveDomain(storeId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (domain: string) =>
      (await removeDomain({ path: { store_id: storeId, domain }, throwOnError: true })).data,
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: domainKeys.list(storeId) });
      qc.invalidateQueries({ queryKey: storeKeys.detail(storeId) });
    },
  });
}
