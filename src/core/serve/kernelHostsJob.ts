/**
 * A "kernel hosts" job: Jupyter Servers on a cluster's CPU nodes that run CodeDance kernels for an
 * eval (`codedance kernels start`, `codedance eval --kernel-hosts cluster:NAME`). Slurm: one task
 * per host (`srun`, `--cpus-per-task`), each starting a Jupyter Server on a free port and writing
 * `HOST PORT` to `serve-$SLURM_JOB_ID/replica-$SLURM_PROCID.addr` as a served model's replica does
 * (discovery.ts reads it; the same SSH tunnels reach it). Ray: the N servers in one job on the
 * driver's node, on port … port+N−1.
 *
 * Each server's only kernelspec of ours, `codedance` (its default), runs the launcher
 * (kernelHostLauncher.ts): the local kernels' sandbox, applied on that node, or the reason it
 * cannot be. What each host applies is in that kernelspec's metadata (`codedance.sandbox`, read
 * over REST), with how many kernels the host takes (`codedance.capacity`).
 *
 * The server's token is never in the script: it comes in the job's secret environment
 * (`CODEDANCE_KH_TOKEN`, secretEnv.ts), is handed to the server as `JUPYTER_TOKEN` (which a
 * Jupyter Server given its token does not print), and the launcher keeps it out of the kernels'
 * environment. The server's log goes to `host-K.log` in the job's folder, not the job's output.
 */
import { JobsError } from '../jobs/errors';
import type { JobSpec } from '../jobs/types';
import { kernelLauncherSource } from './kernelHostLauncher';

export type KernelSandboxMode = 'auto' | 'on' | 'off';

export interface KernelHostsParams {
  /** the job's name */
  name: string;
  /** Jupyter Servers (Slurm tasks) */
  tasks: number;
  /** CPUs per task (Slurm --cpus-per-task); one kernel per CPU unless `capacity` says otherwise */
  cpusPerTask: number;
  /** kernels at once per host (default cpusPerTask) */
  capacity?: number;
  /** the cluster's Python with jupyter_server, ipykernel, Pillow, numpy and matplotlib */
  python: string;
  /** 'auto' (default): sandboxed where bwrap works, else unsandboxed and said; 'on': a host without it fails; 'off' */
  sandbox: KernelSandboxMode;
  /** kernels may reach the network */
  network: boolean;
  /** the kernels' address-space limit, MiB; undefined: automatic, as local kernels; 0: none */
  memoryLimitMb?: number;
  /** names of further variables the kernels may see */
  passEnv: string[];
  /** Ray: the first server's port (server k on port + k); Slurm picks free ports */
  port: number;
  timeLimit?: string;
  partition?: string;
  /** not secret: the token is derived from it (kernelHostsToken.ts) */
  nonce: string;
}

export const KERNEL_HOSTS_TEMPLATE = 'kernel-hosts';

export function kernelHostsDefaults(overrides: Partial<KernelHostsParams> & { nonce: string }): KernelHostsParams {
  return {
    name: 'codedance-kernels',
    tasks: 2,
    cpusPerTask: 4,
    python: 'python3',
    sandbox: 'auto',
    network: false,
    passEnv: [],
    port: 18990,
    ...overrides,
  };
}

const whole = (n: number | undefined, min: number, max = Infinity) => n !== undefined && Number.isInteger(n) && n >= min && n <= max;

export function kernelHostsProblems(p: KernelHostsParams): string[] {
  const bad: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p.name)) bad.push('name: 1-64 letters, digits, _ . -');
  if (!whole(p.tasks, 1, 256)) bad.push('tasks: a whole number from 1 to 256');
  if (!whole(p.cpusPerTask, 1, 1024)) bad.push('cpus-per-task: a whole number from 1 to 1024');
  if (p.capacity !== undefined && !whole(p.capacity, 1, 4096)) bad.push('capacity: a whole number from 1 to 4096');
  if (!p.python.trim() || /[\r\n\0]/.test(p.python)) bad.push('python: a command or path on the cluster, on one line');
  if (!['auto', 'on', 'off'].includes(p.sandbox)) bad.push('sandbox: auto, on or off');
  if (p.memoryLimitMb !== undefined && !whole(p.memoryLimitMb, 0)) bad.push('memory limit: a whole number of MiB ≥ 0');
  if (p.passEnv.some((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) bad.push('pass-env: environment variable names only');
  if (!whole(p.port, 1024) || p.port + p.tasks > 65535) bad.push('port: from 1024 to 65535 (servers use port, port+1, …)');
  if (!/^[a-f0-9]{16,64}$/.test(p.nonce)) bad.push('nonce: 16-64 hex digits');
  return bad;
}

/**
 * One host: its folder, the sandbox probe, the server (in the background: its pid is in the
 * kernelspec), the kernelspec, then the address file; on its end (or the task's) the server is
 * stopped and its runtime folder removed. The runtime folder is short and on the node's /tmp: a
 * kernel's ZeroMQ sockets are Unix sockets there, whose paths may not pass 107 bytes.
 */
function hostScript(): string {
  return [
    '#!/bin/bash',
    'K=${KH_INDEX:-${SLURM_PROCID:-0}}',
    'R="$SERVE_DIR/host-$K"',
    'mkdir -p "$R/data/kernels/codedance" "$R/root" && chmod 700 "$R"',
    'if ! "$KH_PYTHON" -c "import jupyter_server, ipykernel" 2>"$R.err"; then',
    '  echo "kernel host $K: $KH_PYTHON cannot run a Jupyter Server: $(tail -1 "$R.err"); install jupyter_server and ipykernel there, or start the kernel hosts with a Python that has them" >&2; exit 3',
    'fi',
    'if [ "$KH_SANDBOX" = off ]; then SB="unsandboxed: the sandbox is turned off"; else SB=$("$KH_PYTHON" "$SERVE_DIR/launcher.py" --probe); fi',
    'if [ "$KH_SANDBOX" = on ] && [ "$SB" != sandboxed ]; then echo "kernel host $K: the sandbox is required, but $SB" >&2; exit 4; fi',
    'export CODEDANCE_KH_SANDBOX="${SB%%:*}"',
    'RT=$(mktemp -d "/tmp/cdkh-$K-XXXXXX") || exit 5',
    'export KH_PRIVATE="$RT/p"',
    'trap \'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$RT"\' EXIT',
    "trap 'exit 143' TERM INT HUP",
    'HOST=${SERVE_ADVERTISE_HOST:-$(hostname)}',
    'if [ -n "$KH_PORT" ]; then PORT=$((KH_PORT + K)); else PORT=$("$KH_PYTHON" -c \'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])\'); fi',
    'TRANSPORT=ipc; [ "$KH_NETWORK" = 1 ] && TRANSPORT=tcp',
    '(',
    '  export JUPYTER_TOKEN="$CODEDANCE_KH_TOKEN" JUPYTER_RUNTIME_DIR="$RT" JUPYTER_DATA_DIR="$R/data" JUPYTER_PATH="$R/data"',
    '  unset CODEDANCE_KH_TOKEN',
    '  exec "$KH_PYTHON" -m jupyter_server --ServerApp.ip=0.0.0.0 --port="$PORT" --port-retries=0 --no-browser --allow-root \\',
    '    --ServerApp.root_dir="$R/root" --ServerApp.terminals_enabled=False --KernelManager.transport=$TRANSPORT \\',
    '    --MappingKernelManager.default_kernel_name=codedance --MappingKernelManager.cull_idle_timeout=900 \\',
    '    --MappingKernelManager.cull_interval=60 >> "$R.log" 2>&1',
    ') &',
    'SERVER=$!',
    'unset CODEDANCE_KH_TOKEN',
    'KH_SB="$SB" KH_HOST="$HOST" KH_PID=$SERVER KH_RT="$RT" "$KH_PYTHON" - "$R/data/kernels/codedance/kernel.json" "$SERVE_DIR/launcher.py" <<\'SPEC\'',
    'import json, os, sys',
    'meta = {"sandbox": os.environ["KH_SB"], "capacity": int(os.environ["KH_CAPACITY"]), "node": os.environ["KH_HOST"],',
    '        "pid": int(os.environ["KH_PID"]), "runtime": os.environ["KH_RT"]}',
    'spec = {"argv": [os.environ["KH_PYTHON"], sys.argv[2], "{connection_file}"], "display_name": "CodeDance kernel", "language": "python",',
    '        "interrupt_mode": "message", "metadata": {"codedance": meta}}',
    'json.dump(spec, open(sys.argv[1], "w"))',
    'SPEC',
    'echo "$HOST $PORT" > "$SERVE_DIR/replica-$K.addr.tmp" && mv "$SERVE_DIR/replica-$K.addr.tmp" "$SERVE_DIR/replica-$K.addr"',
    'echo "kernel host $K: Jupyter Server on $HOST:$PORT, $SB, up to $KH_CAPACITY kernels (log: $R.log)"',
    'wait $SERVER',
    'echo "kernel host $K: the Jupyter Server on $HOST:$PORT ended (exit $?)"',
  ].join('\n');
}

/** The folder, the launcher and the host script, written by the job itself (no file of ours is copied). */
function prologue(serveDir: string): string {
  return [
    '# Jupyter Servers for CodeDance kernels, one per host; each says where it listens in its serve folder',
    `export SERVE_DIR=${serveDir}`,
    'export KH_DIR="$SERVE_DIR"',
    'mkdir -p "$SERVE_DIR" && chmod 700 "$SERVE_DIR"',
    'cat > "$SERVE_DIR/launcher.py" <<\'LAUNCHER\'',
    kernelLauncherSource().trimEnd(),
    'LAUNCHER',
    'cat > "$SERVE_DIR/host.sh" <<\'HOST\'',
    hostScript(),
    'HOST',
    'chmod +x "$SERVE_DIR/host.sh"',
  ].join('\n');
}

function slurmEntrypoint(): string {
  return [
    prologue('"$SLURM_SUBMIT_DIR/serve-$SLURM_JOB_ID"'),
    '# a host that ends leaves the others running',
    'srun --kill-on-bad-exit=0 --wait=0 "$SERVE_DIR/host.sh"',
  ].join('\n');
}

function rayEntrypoint(): string {
  // Ray runs the entrypoint with /bin/sh: the rest is bash's
  return [
    "bash <<'KERNEL_HOSTS'",
    prologue('"$(mktemp -d "${TMPDIR:-/tmp}/codedance-kernel-hosts-XXXXXX")"'),
    'for k in $(seq 0 $((KH_TASKS - 1))); do KH_INDEX=$k "$SERVE_DIR/host.sh" & done',
    'wait',
    'KERNEL_HOSTS',
  ].join('\n');
}

/** The job; the user may review it like a serve job. `CODEDANCE_KH_TOKEN` is added by the caller as a secret. */
export function buildKernelHostsJob(p: KernelHostsParams, kind: 'ray' | 'slurm'): JobSpec {
  const problems = kernelHostsProblems(p);
  if (problems.length) throw new JobsError('config', `kernel hosts: ${problems.join('; ')}`);
  const capacity = p.capacity ?? p.cpusPerTask;
  const env: Record<string, string> = {
    KH_PYTHON: p.python.trim(),
    KH_TASKS: String(p.tasks),
    KH_CAPACITY: String(capacity),
    KH_SANDBOX: p.sandbox,
    KH_NETWORK: p.network ? '1' : '0',
    KH_MEMORY_MB: p.memoryLimitMb === undefined ? '' : String(p.memoryLimitMb),
    KH_PASS_ENV: p.passEnv.join(','),
    KH_NONCE: p.nonce,
    ...(kind === 'ray' ? { KH_PORT: String(p.port) } : {}),
  };
  const metadata = {
    template: KERNEL_HOSTS_TEMPLATE,
    kernel_hosts: String(p.tasks),
    kernel_hosts_nonce: p.nonce,
    kernel_hosts_network: p.network ? '1' : '0',
    // Ray: where the servers listen (discovery.ts rayReplicas)
    serve_port: String(p.port),
    serve_replicas: String(p.tasks),
  };
  const base: JobSpec = { name: p.name, entrypoint: '', env, metadata, timeLimit: p.timeLimit, partition: p.partition };
  if (kind === 'slurm') return { ...base, tasks: p.tasks, cpusPerTask: p.cpusPerTask, entrypoint: slurmEntrypoint() };
  return { ...base, entrypoint: rayEntrypoint(), entrypointNumCpus: p.tasks * p.cpusPerTask };
}
