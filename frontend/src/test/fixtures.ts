/** Data the component tests share: the platform's default plans as
 * GET /api/fleet/plans gives them to a member (large is an admin's to give). */
import type { PlanOut } from '../client';

export const PLANS: PlanOut[] = [
  { name: 'small', memory_mib: 512, cpus: 1, pids: 128, storage_gib: 5, php_workers: 5, php_memory_mib: 176, default: true, yours_to_pick: true },
  { name: 'medium', memory_mib: 1024, cpus: 2, pids: 256, storage_gib: 20, php_workers: 13, php_memory_mib: 256, default: false, yours_to_pick: true },
  { name: 'large', memory_mib: 2048, cpus: 4, pids: 512, storage_gib: 50, php_workers: 29, php_memory_mib: 256, default: false, yours_to_pick: false },
];
