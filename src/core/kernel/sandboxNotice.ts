/**
 * Where Python cells run, said truthfully wherever it is said: the CLI's `sandbox:` line, the
 * chat panel's header and the editor's log, the eval manifest and report. A `CellHost` is plain
 * data (it is saved in the eval manifest); `describeSandbox` turns it into the notice (what the
 * code can reach, and how to sandbox it), `sandboxLabel` into a few words for a header.
 */
import { displayUrl } from '../secrets';
import { cgroupSupport } from './cgroup';
import { describeLimits, type LimitsInForce } from './limits';
import { DEFAULT_MAX_PROCESSES, type SandboxMode } from './sandbox';
import { automaticMemoryLimitMb, findOnPath, processLimitIsPerSandbox, sandboxStatus } from './sandboxHost';

export type CellHost =
  /** a kernel started here, in the bubblewrap sandbox */
  | { kind: 'local'; sandboxed: true; network: boolean; limits?: string }
  /**
   * a kernel started here without the sandbox: turned off, or unavailable (`detail`: why,
   * `fix`: how to get it); `required`: the sandbox is required, so no cell runs at all
   */
  | { kind: 'local'; sandboxed: false; reason: 'off' | 'unavailable'; detail?: string; fix?: string; required?: boolean; limits?: string }
  /** a kernel on a Jupyter server (`server`: its URL without credentials) */
  | { kind: 'remote'; server: string }
  /** a notebook's kernel, started by the editor's Jupyter extension */
  | { kind: 'notebook'; notebook: string }
  /**
   * a kernel host of a kernel-hosts job on a cluster (eval --kernel-hosts): a Jupyter server whose
   * launcher applies the sandbox there, or says why it cannot (`detail`)
   */
  | { kind: 'cluster'; cluster: string; host: string; sandboxed: boolean; network: boolean; detail?: string }
  /** kernels spread over several hosts, each as it is */
  | { kind: 'hosts'; hosts: CellHost[] };

/** Where a kernel started here runs with this sandbox mode and network setting (the sandbox is probed once, then cached). */
export function localCellHost(
  mode: SandboxMode = 'auto',
  network = false,
  limits: { memoryLimitMb?: number; maxProcesses?: number } = {},
): CellHost {
  if (mode === 'off') return { kind: 'local', sandboxed: false, reason: 'off', limits: limitsSentence(false, limits) };
  const s = sandboxStatus();
  if (!s.available)
    return {
      kind: 'local',
      sandboxed: false,
      reason: 'unavailable',
      detail: s.reason,
      fix: s.fix,
      ...(mode === 'on' ? { required: true } : { limits: limitsSentence(false, limits) }),
    };
  return { kind: 'local', sandboxed: true, network, limits: limitsSentence(true, limits) };
}

/** The limits a local kernel gets here, and what they count (sandbox.ts decides the same way at launch). */
function limitsSentence(sandboxed: boolean, o: { memoryLimitMb?: number; maxProcesses?: number }): string {
  const support = cgroupSupport();
  const maxProcesses = o.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const root = process.getuid?.() === 0;
  const bwrap = sandboxed ? findOnPath('bwrap') : undefined;
  const nproc: LimitsInForce['nproc'] = !sandboxed
    ? 'none'
    : root
      ? 'per-user'
      : bwrap && processLimitIsPerSandbox(bwrap)
        ? 'per-sandbox'
        : 'none';
  return describeLimits(support, {
    memoryLimitMb: o.memoryLimitMb ?? automaticMemoryLimitMb(),
    maxProcesses,
    nproc,
    runAsUser: sandboxed && root ? 'nobody' : undefined,
  });
}

/** A kernel on the Jupyter server at `url` (credentials are not kept). */
export function remoteCellHost(url: string): CellHost {
  return { kind: 'remote', server: displayUrl(url) };
}

/** Whether the code of cells on this host is contained by the bubblewrap sandbox. */
export function isSandboxed(host: CellHost): boolean {
  if (host.kind === 'hosts') return host.hosts.length > 0 && host.hosts.every(isSandboxed);
  return (host.kind === 'local' || host.kind === 'cluster') && host.sandboxed;
}

/** A few words for a header or a report: "sandboxed", "unsandboxed: remote kernel", … */
export function sandboxLabel(host: CellHost): string {
  switch (host.kind) {
    case 'remote':
      return 'unsandboxed: remote kernel';
    case 'notebook':
      return 'unsandboxed: notebook kernel';
    case 'cluster':
      if (!host.sandboxed) return 'unsandboxed: remote kernel';
      return host.network ? 'sandboxed, network on' : 'sandboxed';
    case 'hosts':
      return hostsLabel(host.hosts);
    case 'local':
      if (host.sandboxed) return host.network ? 'sandboxed, network on' : 'sandboxed';
      if (host.required) return 'no cells run: sandbox unavailable';
      return host.reason === 'off' ? 'unsandboxed: sandbox off' : 'unsandboxed: sandbox unavailable';
  }
}

/** What unsandboxed code on this machine can reach (said of every local kernel without the sandbox). */
const LOCAL_UNSANDBOXED_REACH =
  "code runs as you, can read your files (e.g. ~/.ssh, cloud credentials) and every secret in the environment of the process that started it (the codedance CLI, or VS Code's extension host; on Linux through /proc/<ppid>/environ), whatever the kernel's own environment holds, and can reach the network; redaction cannot catch a secret the code encodes before printing it";

/**
 * The notice: one paragraph on where Python cells run, what the code can reach, and how to
 * sandbox it. Without a host: a kernel started here with the default sandbox mode.
 */
export function describeSandbox(host: CellHost = localCellHost()): string {
  switch (host.kind) {
    case 'remote':
      return `Python cells run unsandboxed: remote kernel on the Jupyter server at ${host.server}. The code runs on that machine as whatever user the server runs as, with everything that user can read (the server's own token and files included) and reach; a process it starts can outlive the run, and CodeDance cannot contain it.`;
    case 'notebook':
      return `Python cells run unsandboxed: notebook kernel (${host.notebook}), started by the Jupyter extension. The ${LOCAL_UNSANDBOXED_REACH}.`;
    case 'cluster':
      return clusterNotice(host);
    case 'hosts':
      return `Python cells run on ${host.hosts.length} kernel host${host.hosts.length === 1 ? '' : 's'}: ${host.hosts.map((h) => `${hostName(h)}: ${describeSandbox(h)}`).join(' ')}`;
    case 'local':
      return localNotice(host);
  }
}

function localNotice(host: Extract<CellHost, { kind: 'local' }>): string {
  const limits = host.limits ? ` ${host.limits}` : '';
  if (host.sandboxed)
    return `Python cells run in a bubblewrap sandbox (read-only filesystem except the work folder, fresh home, no view of other processes, no user namespaces${host.network ? ', network ON' : ', no network'}).${limits}`;
  if (host.required) return `Python cells will not run: the sandbox is required but unavailable: ${host.detail}. To sandbox: ${host.fix}.`;
  const why = host.reason === 'off' ? ' (sandbox turned off):' : `: ${host.detail}.`;
  const reach = host.reason === 'off' ? LOCAL_UNSANDBOXED_REACH : capitalize(LOCAL_UNSANDBOXED_REACH);
  return `Python cells run UNSANDBOXED${why} ${reach}.${host.fix ? ` To sandbox: ${host.fix}.` : ''}${limits}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** several hosts: their one label when they agree, else the first that is not sandboxed (the weakest says it) */
function hostsLabel(hosts: CellHost[]): string {
  const labels = [...new Set(hosts.map(sandboxLabel))];
  if (labels.length <= 1) return labels[0] ?? 'no kernel host';
  const open = hosts.find((h) => !isSandboxed(h));
  return open ? sandboxLabel(open) : 'sandboxed';
}

function hostName(h: CellHost): string {
  if (h.kind === 'cluster') return `[${h.host} on ${h.cluster}]`;
  if (h.kind === 'remote') return `[${h.server}]`;
  return `[${h.kind === 'local' ? 'this machine' : h.kind}]`;
}

function clusterNotice(host: Extract<CellHost, { kind: 'cluster' }>): string {
  const where = `kernel host ${host.host} of the kernel-hosts job on ${host.cluster}`;
  if (!host.sandboxed)
    return `Python cells run unsandboxed: remote kernel on ${where}${host.detail ? ` (${host.detail})` : ''}. The code runs on that node as your cluster user, with everything that user can read and reach, the Jupyter server's own token included; a process it starts can outlive the run, and CodeDance cannot contain it.`;
  return `Python cells run in a bubblewrap sandbox on ${where} (read-only filesystem, home and the job's folder hidden, fresh home, no view of other processes${host.network ? ', network ON' : ', no network'}), with an address-space limit; no cgroup or seccomp filter there: processes and user namespaces are not limited.`;
}
