/** The audit log (admins only), newest first. */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { listAuditEvents } from '../../client';

export const auditKeys = {
  all: ['audit'] as const,
  list: (params: { limit: number; offset: number }) => [...auditKeys.all, 'list', params] as const,
};

export function useAuditEvents(params: { limit: number; offset: number }) {
  return useQuery({
    queryKey: auditKeys.list(params),
    queryFn: async ({ signal }) => (await listAuditEvents({ query: params, signal, throwOnError: true })).data,
    placeholderData: keepPreviousData,
  });
}
