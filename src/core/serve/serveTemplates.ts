/**
 * vLLM OpenAI-compatible servers as cluster jobs: the **policy** (a CodeDance / Qwen2.5-VL
 * checkpoint) and the seed's **judge** (`vllm serve Qwen/Qwen2.5-72B-Instruct --port 18901 …`,
 * ../shared/docs/codedance-training.md). N replicas: Slurm runs one task per replica (`srun`), each
 * writing `HOST PORT` to `serve-$SLURM_JOB_ID/replica-$SLURM_PROCID.addr` next to the job's
 * output (discovery.ts reads it); Ray runs the N servers in one job on the driver's node.
 * Values reach the script only as quoted environment variables; flags are checked words.
 */
import { JobsError } from '../jobs/errors';
import { shQuote } from '../jobs/slurmText';
import type { JobSpec } from '../jobs/types';

export type ServeRole = 'policy' | 'judge';

export interface ServeParams {
  role: ServeRole;
  /** the job name */
  name: string;
  /** a checkpoint folder on the cluster or a hub id */
  modelPath: string;
  /** `--served-model-name`: the model name clients ask for */
  servedModelName: string;
  /** the first replica's port; replica k on the same node listens on port + k */
  port: number;
  replicas: number;
  /** `--tensor-parallel-size`: GPUs per replica */
  tensorParallel: number;
  maxModelLen: number;
  gpuMemoryUtilization: number;
  /** codedance-tools adds `--enable-auto-tool-choice --tool-call-parser hermes` */
  protocol: 'codedance' | 'codedance-tools';
  /** `--limit-mm-per-prompt {"image": N}`; 0 leaves vLLM's default */
  imagesPerPrompt: number;
  /** more vLLM flags, one word each */
  extraArgs: string[];
  /** Slurm --time; Slurm --chdir / Ray working_dir */
  timeLimit?: string;
  workingDir?: string;
}

/** The seed's judge, exactly: Qwen2.5-72B-Instruct as "judge" on 18901, TP 8, 0.8 of the GPU memory, 32k context. */
export function judgeDefaults(overrides: Partial<ServeParams> = {}): ServeParams {
  return {
    role: 'judge',
    name: 'codedance-judge',
    modelPath: 'Qwen/Qwen2.5-72B-Instruct',
    servedModelName: 'judge',
    port: 18901,
    replicas: 1,
    tensorParallel: 8,
    maxModelLen: 32768,
    gpuMemoryUtilization: 0.8,
    protocol: 'codedance',
    imagesPerPrompt: 0,
    extraArgs: [],
    ...overrides,
  };
}

export function policyDefaults(overrides: Partial<ServeParams> = {}): ServeParams {
  return {
    role: 'policy',
    name: 'codedance-serve',
    modelPath: '',
    servedModelName: 'codedance-7b',
    port: 8000,
    replicas: 1,
    tensorParallel: 1,
    maxModelLen: 32768,
    gpuMemoryUtilization: 0.9,
    protocol: 'codedance',
    imagesPerPrompt: 8,
    extraArgs: [],
    ...overrides,
  };
}

const FLAG_WORD = /^[A-Za-z0-9_@%+=:,./{}"\[\] -]+$/;

export function serveProblems(p: ServeParams): string[] {
  const bad = [...nameProblems(p), ...sizeProblems(p)];
  for (const a of p.extraArgs)
    if (!FLAG_WORD.test(a))
      bad.push(`extraArgs: ${JSON.stringify(a)} holds characters a vLLM flag does not need (quotes, $, ;, line breaks)`);
  return bad;
}

/** the job's name, the checkpoint and the served model name */
function nameProblems(p: ServeParams): string[] {
  const bad: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p.name)) bad.push('name: 1-64 letters, digits, _ . -');
  if (!p.modelPath.trim())
    bad.push('modelPath: empty: give a checkpoint folder on the cluster or a hub id such as Qwen/Qwen2.5-VL-7B-Instruct');
  else if (/[\r\n\0]/.test(p.modelPath)) bad.push('modelPath: holds a line break');
  if (!/^[A-Za-z0-9_.:/-]{1,128}$/.test(p.servedModelName)) bad.push('servedModelName: 1-128 letters, digits, _ . : / -');
  return bad;
}

/** ports, replicas, GPUs, context length, memory, images */
function sizeProblems(p: ServeParams): string[] {
  const bad: string[] = [];
  const whole = (n: number, min: number, max = Infinity) => Number.isInteger(n) && n >= min && n <= max;
  if (!whole(p.port, 1024) || p.port + p.replicas > 65535)
    bad.push(`port: ${p.port} is not a port from 1024 to 65535 (replicas use port, port+1, …)`);
  if (!whole(p.replicas, 1, 64)) bad.push('replicas: a whole number from 1 to 64');
  if (!whole(p.tensorParallel, 0, 64)) bad.push('tensorParallel: a whole number from 0 to 64 (0: no GPU, for tests)');
  if (!whole(p.maxModelLen, 256)) bad.push('maxModelLen: a whole number ≥ 256');
  if (!(p.gpuMemoryUtilization > 0 && p.gpuMemoryUtilization <= 1)) bad.push('gpuMemoryUtilization: a fraction in (0, 1]');
  if (!whole(p.imagesPerPrompt, 0)) bad.push('imagesPerPrompt: a whole number ≥ 0');
  return bad;
}

/** The `vllm serve` command, as the replica runs it (MODEL_PATH, SERVED_MODEL_NAME, PORT from the environment). */
export function vllmCommand(p: ServeParams): string {
  const words = [
    'vllm serve "$MODEL_PATH"',
    '--port "$PORT"',
    `--gpu-memory-utilization ${p.gpuMemoryUtilization}`,
    `--max-model-len ${p.maxModelLen}`,
  ];
  if (p.tensorParallel > 0) words.push(`--tensor-parallel-size ${p.tensorParallel}`);
  words.push('--served-model-name "$SERVED_MODEL_NAME"', '--trust-remote-code', '--disable-log-requests', '--host "::"');
  if (p.role === 'policy' && p.protocol === 'codedance-tools') words.push('--enable-auto-tool-choice', '--tool-call-parser hermes');
  if (p.imagesPerPrompt > 0) words.push(`--limit-mm-per-prompt ${shQuote(JSON.stringify({ image: p.imagesPerPrompt }))}`);
  words.push(...p.extraArgs.map(shQuote));
  return words.join(' \\\n  ');
}

/** Slurm: one task per replica, each announcing `HOST PORT` in the job's serve folder before it starts vLLM. */
function slurmEntrypoint(p: ServeParams): string {
  return [
    "# one vLLM server per task (replica); each says where it listens in serve-$SLURM_JOB_ID/ next to this job's output",
    'export SERVE_DIR="$SLURM_SUBMIT_DIR/serve-$SLURM_JOB_ID"',
    'mkdir -p "$SERVE_DIR"',
    'cat > "$SERVE_DIR/replica.sh" <<\'REPLICA\'',
    '#!/bin/bash',
    'PORT=$((SERVE_PORT + ${SLURM_LOCALID:-0}))',
    'HOST=${SERVE_ADVERTISE_HOST:-$(hostname)}',
    'echo "$HOST $PORT" > "$SERVE_DIR/replica-$SLURM_PROCID.addr.tmp" && mv "$SERVE_DIR/replica-$SLURM_PROCID.addr.tmp" "$SERVE_DIR/replica-$SLURM_PROCID.addr"',
    'echo "replica $SLURM_PROCID: $SERVED_MODEL_NAME on $HOST:$PORT"',
    `exec ${vllmCommand(p)}`,
    'REPLICA',
    'chmod +x "$SERVE_DIR/replica.sh"',
    'srun --kill-on-bad-exit=1 "$SERVE_DIR/replica.sh"',
  ].join('\n');
}

/** Ray: the N servers in one job on the driver's node, each on its own slice of the job's GPUs. */
function rayEntrypoint(p: ServeParams): string {
  // Ray runs the entrypoint with /bin/sh: the loop is bash's
  return [
    "bash <<'SERVE'",
    '# N vLLM servers on the driver node: replica k on SERVE_PORT+k with GPUs k*TP … (k+1)*TP-1',
    'IFS=, read -r -a GPUS <<< "${CUDA_VISIBLE_DEVICES:-}"',
    'for k in $(seq 0 $((SERVE_REPLICAS - 1))); do',
    '  PORT=$((SERVE_PORT + k))',
    '  if [ "${#GPUS[@]}" -gt 0 ] && [ "$SERVE_TP" -gt 0 ]; then export CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${GPUS[*]:$((k * SERVE_TP)):$SERVE_TP}"); fi',
    '  echo "replica $k: $SERVED_MODEL_NAME on port $PORT"',
    `  ${vllmCommand(p).replace(/\n/g, '\n  ')} &`,
    'done',
    'wait -n; status=$?; kill $(jobs -p) 2>/dev/null; exit $status',
    'SERVE',
  ].join('\n');
}

/** The job that serves a model; the user reviews and edits it like a training job. */
export function buildServeJob(p: ServeParams, kind: 'ray' | 'slurm'): JobSpec {
  const problems = serveProblems(p);
  if (problems.length) throw new JobsError('config', `serve ${p.role}: ${problems.join('; ')}`);
  const env: Record<string, string> = {
    MODEL_PATH: p.modelPath.trim(),
    SERVED_MODEL_NAME: p.servedModelName,
    SERVE_PORT: String(p.port),
    SERVE_REPLICAS: String(p.replicas),
    SERVE_TP: String(p.tensorParallel),
  };
  const metadata = {
    template: `serve-${p.role}`,
    serve_role: p.role,
    served_model_name: p.servedModelName,
    serve_port: String(p.port),
    serve_replicas: String(p.replicas),
    model_path: p.modelPath.trim(),
  };
  const base: JobSpec = { name: p.name, entrypoint: '', env, metadata, timeLimit: p.timeLimit, workingDir: p.workingDir };
  if (kind === 'slurm') return { ...base, tasks: p.replicas, gpusPerTask: p.tensorParallel || undefined, entrypoint: slurmEntrypoint(p) };
  return { ...base, entrypoint: rayEntrypoint(p), entrypointNumGpus: p.tensorParallel * p.replicas || undefined };
}
