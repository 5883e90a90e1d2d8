/**
 * One sentence for notices (CLI, chat header, eval report) that says which limits hold for the
 * whole sandbox (a cgroup: memory.max, pids.max) and which only per process (RLIMIT_AS) or per
 * user (RLIMIT_NPROC), so a limit is never claimed for more than it covers.
 */
import type { CgroupSupport } from './cgroup';

export interface LimitsInForce {
  /** memory limit, MiB (0: none) */
  memoryLimitMb: number;
  /** process limit (undefined or 0: none) */
  maxProcesses?: number;
  /** without a cgroup, how RLIMIT_NPROC counts: in the sandbox's own user namespace, over every
   * process of the user the code runs as (e.g. nobody, shared by all sandboxes), or not applied */
  nproc?: 'per-sandbox' | 'per-user' | 'none';
  /** the user the code runs as, for the per-user wording (e.g. 'nobody') */
  runAsUser?: string;
  /** CPU seconds per process (RLIMIT_CPU) */
  cpuTimeLimitS?: number;
}

const LABEL: Record<CgroupSupport['kind'], string> = { 'systemd-scope': 'a systemd scope', v2: 'a cgroup v2', v1: 'a cgroup v1', none: '' };

/** e.g. "Limits: per sandbox (a cgroup v2, for the kernel and all it starts): 8192 MiB of memory, 1024 processes." */
export function describeLimits(support: CgroupSupport, l: LimitsInForce): string {
  const mem = l.memoryLimitMb > 0 ? l.memoryLimitMb : 0;
  const n = l.maxProcesses && l.maxProcesses > 0 ? l.maxProcesses : 0;
  const { perSandbox, weaker } = limitScopes(support, l, mem, n);
  const unlimited = [!mem && 'memory', (!n || (!support.pids && (l.nproc ?? 'none') === 'none')) && 'processes'].filter(Boolean);
  const parts: string[] = [];
  if (perSandbox.length)
    parts.push(
      `per sandbox (${LABEL[support.kind] || 'its own user namespace'}, for the kernel and all it starts): ${perSandbox.join(', ')}`,
    );
  if (weaker.length)
    parts.push(`${support.kind === 'none' ? 'per process only (no usable cgroup here)' : 'per process only'}: ${weaker.join('; ')}`);
  if (unlimited.length) parts.push(`none on ${unlimited.join(' or ')}`);
  return `Limits: ${parts.join('; ')}.`;
}

/** Each limit in force, worded for what it covers: the whole sandbox, or less (a process, every process of a user). */
function limitScopes(support: CgroupSupport, l: LimitsInForce, mem: number, n: number): { perSandbox: string[]; weaker: string[] } {
  const perSandbox: string[] = [];
  const weaker: string[] = [];
  if (mem && support.memory) perSandbox.push(`${mem} MiB of memory`);
  else if (mem) weaker.push(`${mem} MiB of address space per process (RLIMIT_AS: several processes together can use more)`);
  if (n && support.pids) perSandbox.push(`${n} processes`);
  else if (n && l.nproc === 'per-sandbox') perSandbox.push(`${n} processes (RLIMIT_NPROC in the sandbox's user namespace)`);
  else if (n && l.nproc === 'per-user')
    weaker.push(
      `${n} processes shared by every process of ${l.runAsUser ? `user ${l.runAsUser}` : 'the user'}, other sandboxes included (RLIMIT_NPROC)`,
    );
  if (l.cpuTimeLimitS && l.cpuTimeLimitS > 0) weaker.push(`${Math.ceil(l.cpuTimeLimitS)} CPU seconds per process`);
  return { perSandbox, weaker };
}
