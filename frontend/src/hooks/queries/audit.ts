/** The audit log (admins only), newest first, optionally filtered. */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { listAuditEvents } from '../../client';
import type { AuditResult } from '../../client';

export type AuditFilters = { actor?: string; action?: string; result?: AuditResult };
type AuditParams = AuditFilters & { limit: number; offset: number };

export const auditKeys = {
  all: ['audit'] as const,
  list: (params: AuditParams) => [...auditKeys.all, 'list', params] as const,
};

export function useAuditEvents(params: AuditParams) {
  const query = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')) as AuditParams;
  return useQuery({
    queryKey: auditKeys.list(query),
    queryFn: async ({ signal }) => (await listAuditEvents({ query, signal, throwOnError: true })).data,
    placeholderData: keepPreviousData,
  });
}
