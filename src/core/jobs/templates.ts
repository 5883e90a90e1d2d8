/**
 * CodeDance job templates: RL (verl PPO/GRPO through the seed's scripts/train.sh), SFT (verl's
 * FSDP SFT trainer under torchrun) and Ray-on-Slurm (start a Ray head and workers inside a Slurm
 * allocation, then the RL run). A template turns a few parameters into a JobSpec; the user reviews
 * and edits the result (review.ts) before it is submitted.
 */
import { JobsError } from './errors';
import type { JobSpec } from './types';

export type TemplateId = 'codedance-rl' | 'codedance-sft' | 'ray-on-slurm';

export interface TemplateParams {
  /** trainer.experiment_name; also the job name */
  experimentName: string;
  projectName: string;
  /** HF model folder or hub id (actor_rollout_ref.model.path / model.partial_pretrain) */
  modelPath: string;
  /** parquet files, comma-separated (data.train_files) */
  trainFiles: string;
  valFiles: string;
  nodes: number;
  gpusPerNode: number;
  /** LLM-as-judge base URL(s), comma-separated: LLM_AS_A_JUDGE_BASE */
  judgeUrl: string;
  /** checkout of the CodeDance seed on the cluster (the job runs there); Ray: a local folder to upload or a URI */
  repoDir: string;
  /** checkpoints (trainer.default_local_dir) */
  outputDir: string;
  /** Slurm --time */
  timeLimit?: string;
}

export interface JobTemplate {
  id: TemplateId;
  label: string;
  description: string;
  kinds: readonly ('ray' | 'slurm')[];
}

export const TEMPLATES: readonly JobTemplate[] = [
  { id: 'codedance-rl', label: 'CodeDance RL (verl, scripts/train.sh)', description: 'multi-turn code-as-tool RL with the LLM-as-judge reward', kinds: ['ray', 'slurm'] },
  { id: 'codedance-sft', label: 'CodeDance SFT (verl FSDP SFT trainer)', description: 'supervised fine-tuning on the CodeDance-SFT trajectories', kinds: ['ray', 'slurm'] },
  { id: 'ray-on-slurm', label: 'Ray on Slurm: head + workers, then CodeDance RL', description: 'for Slurm clusters without a running Ray: starts Ray inside the allocation', kinds: ['slurm'] },
];

export function defaultParams(overrides: Partial<TemplateParams> = {}): TemplateParams {
  return {
    experimentName: 'codedance-rl',
    projectName: 'codedance',
    modelPath: 'Qwen/Qwen2.5-VL-7B-Instruct',
    trainFiles: 'data/codedance_rl_train.parquet',
    valFiles: 'data/codedance_rl_val.parquet',
    nodes: 1,
    gpusPerNode: 8,
    judgeUrl: 'http://127.0.0.1:18901/v1',
    repoDir: '',
    outputDir: 'checkpoints',
    ...overrides,
  };
}

/** Checks the parameters; returns the problems (empty when fine), each naming the field. */
export function validateParams(p: TemplateParams): string[] {
  const bad: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p.experimentName)) bad.push('experimentName: 1-64 letters, digits, _ . -');
  if (!p.modelPath.trim()) bad.push('modelPath: empty');
  if (!p.trainFiles.trim()) bad.push('trainFiles: empty');
  if (!Number.isInteger(p.nodes) || p.nodes < 1) bad.push('nodes: a whole number ≥ 1');
  if (!Number.isInteger(p.gpusPerNode) || p.gpusPerNode < 0) bad.push('gpusPerNode: a whole number ≥ 0');
  if (p.timeLimit !== undefined && p.timeLimit !== '' && !/^(?:\d+(?:-\d+)?(?::\d+){0,2}|UNLIMITED|INFINITE)$/i.test(p.timeLimit)) bad.push(`timeLimit: ${JSON.stringify(p.timeLimit)} is not a Slurm time (D-HH:MM:SS, HH:MM:SS or minutes)`);
  for (const u of p.judgeUrl.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!/^https?:\/\/[^\s]+$/.test(u)) bad.push(`judgeUrl: '${u}' is not an http(s) URL`);
  }
  return bad;
}

/** The environment of the seed's train.sh (what its variables are called there). */
function trainEnv(p: TemplateParams): Record<string, string> {
  const env: Record<string, string> = {
    EXPERIMENT_NAME: p.experimentName,
    PROJECT_NAME: p.projectName,
    MODEL_PATH: p.modelPath,
    TRAIN_FILES: p.trainFiles,
    VAL_FILES: p.valFiles,
    NNODES: String(p.nodes),
    N_GPUS_PER_NODE: String(p.gpusPerNode),
    SAVE_DIR: p.outputDir,
  };
  if (p.judgeUrl.trim()) env.LLM_AS_A_JUDGE_BASE = p.judgeUrl.trim();
  return env;
}

/** verl overrides on the command line, so the run does what the fields say even when train.sh hard-codes defaults. */
const RL_ENTRYPOINT = [
  'bash scripts/train.sh \\',
  '  data.train_files="$TRAIN_FILES" data.val_files="$VAL_FILES" \\',
  '  actor_rollout_ref.model.path="$MODEL_PATH" \\',
  '  trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$N_GPUS_PER_NODE" \\',
  '  trainer.project_name="$PROJECT_NAME" trainer.experiment_name="$EXPERIMENT_NAME" \\',
  '  trainer.default_local_dir="$SAVE_DIR/$EXPERIMENT_NAME"',
].join('\n');

function sftTrainerArgs(): string {
  return [
    '  -m verl.trainer.fsdp_sft_trainer \\',
    '  data.train_files="$TRAIN_FILES" data.val_files="$VAL_FILES" \\',
    '  data.multiturn.enable=true data.multiturn.messages_key=messages \\',
    '  model.partial_pretrain="$MODEL_PATH" \\',
    '  trainer.project_name="$PROJECT_NAME" trainer.experiment_name="$EXPERIMENT_NAME" \\',
    '  trainer.default_local_dir="$SAVE_DIR/$EXPERIMENT_NAME"',
  ].join('\n');
}

const SFT_ENTRYPOINT_SINGLE = `torchrun --standalone --nnodes=1 --nproc_per_node="$N_GPUS_PER_NODE" \\\n${sftTrainerArgs()}`;

const SFT_ENTRYPOINT_SLURM = [
  'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
  'srun --ntasks-per-node=1 torchrun --nnodes="$SLURM_NNODES" --nproc_per_node="$N_GPUS_PER_NODE" \\',
  '  --rdzv_backend=c10d --rdzv_endpoint="$HEAD:29500" --rdzv_id="$SLURM_JOB_ID" \\',
  sftTrainerArgs(),
].join('\n');

/** Starts Ray inside the allocation (head on the first node, a worker on each other), then the RL run on the head. */
export function rayOnSlurmPreamble(): string {
  return [
    '# --- Ray inside this allocation: head on the first node, one worker per other node ---',
    'NODES=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))',
    'HEAD=${NODES[0]}',
    'HEAD_IP=$(srun --overlap --nodes=1 --ntasks=1 -w "$HEAD" hostname -I | awk \'{print $1}\')',
    'RAY_PORT=${RAY_PORT:-6379}',
    'echo "ray head: $HEAD ($HEAD_IP:$RAY_PORT), workers: ${NODES[@]:1}"',
    'srun --overlap --nodes=1 --ntasks=1 -w "$HEAD" ray start --head --node-ip-address="$HEAD_IP" --port="$RAY_PORT" \\',
    '  --num-gpus="$N_GPUS_PER_NODE" --dashboard-host=127.0.0.1 --block &',
    '# wait until the head answers (up to RAY_HEAD_TIMEOUT seconds)',
    'for _ in $(seq 1 "${RAY_HEAD_TIMEOUT:-180}"); do ray status --address="$HEAD_IP:$RAY_PORT" >/dev/null 2>&1 && break; sleep 1; done',
    'for node in "${NODES[@]:1}"; do',
    '  srun --overlap --nodes=1 --ntasks=1 -w "$node" ray start --address="$HEAD_IP:$RAY_PORT" --num-gpus="$N_GPUS_PER_NODE" --block &',
    'done',
    'sleep "${RAY_WORKER_WAIT:-10}"',
    'export RAY_ADDRESS="$HEAD_IP:$RAY_PORT"',
    '# --- the training run ---',
  ].join('\n');
}

/** The job a template makes for a cluster kind. */
export function buildJob(id: TemplateId, p: TemplateParams, kind: 'ray' | 'slurm'): JobSpec {
  const problems = validateParams(p);
  if (problems.length) throw new JobsError('config', `template ${id}: ${problems.join('; ')}`);
  const tpl = TEMPLATES.find((t) => t.id === id);
  if (!tpl) throw new JobsError('config', `unknown template '${id}': use one of ${TEMPLATES.map((t) => t.id).join(', ')}`);
  if (!tpl.kinds.includes(kind)) throw new JobsError('config', `template ${id} is for ${tpl.kinds.join('/')} clusters, not ${kind}`);
  const base: JobSpec = {
    name: p.experimentName,
    entrypoint: '',
    env: trainEnv(p),
    workingDir: p.repoDir.trim() || undefined,
    metadata: { template: id, experiment_name: p.experimentName, model_path: p.modelPath },
    nodes: p.nodes,
    gpusPerNode: p.gpusPerNode,
    timeLimit: p.timeLimit,
  };
  switch (id) {
    case 'codedance-rl':
      // on Ray, verl's driver runs on the head and its workers ask Ray for GPUs: the entrypoint reserves none
      return { ...base, entrypoint: RL_ENTRYPOINT };
    case 'codedance-sft':
      if (kind === 'slurm') return { ...base, entrypoint: SFT_ENTRYPOINT_SLURM };
      return { ...base, nodes: 1, env: { ...base.env, NNODES: '1' }, entrypoint: SFT_ENTRYPOINT_SINGLE, entrypointNumGpus: p.gpusPerNode || undefined };
    case 'ray-on-slurm':
      return { ...base, entrypoint: `${rayOnSlurmPreamble()}\n${RL_ENTRYPOINT}` };
  }
}
