/**
 * CodeDance job templates: RL (the seed's verl launch, rlTemplate.ts), SFT (verl's FSDP SFT
 * trainer under torchrun) and Ray-on-Slurm (start a Ray head and workers inside a Slurm
 * allocation, then the RL run). A template turns a few parameters into a JobSpec; the user reviews
 * and edits the result (review.ts) before it is submitted. Secrets (WANDB_API_KEY, …) are never
 * part of it: they go in `JobSpec.secretEnv` at submit time.
 */
import { JobsError } from './errors';
import {
  parquetList,
  rlEntrypoint,
  rlProblems,
  SEED_REWARD_NAME,
  SEED_REWARD_PATH,
  SEED_TOOL_CONFIG,
  SEED_TRAIN_FILES,
  SEED_VAL_FILES,
} from './rlTemplate';
import type { JobSpec } from './types';

export type TemplateId = 'codedance-rl' | 'codedance-sft' | 'ray-on-slurm';

export interface TemplateParams {
  /** trainer.experiment_name; also the job name */
  experimentName: string;
  /** trainer.project_name (the seed: CodeDance) */
  projectName: string;
  /** the checkpoint to start from: RL PT_CKPT_PATH (the SFT model), SFT model.partial_pretrain */
  modelPath: string;
  /** the folder on the cluster holding the parquet files (DATA_ROOT); relative to the checkout when relative */
  dataRoot: string;
  /** parquet files, comma-separated; a bare name is read under DATA_ROOT; empty = the template's (the seed's six) */
  trainFiles: string;
  valFiles: string;
  nodes: number;
  gpusPerNode: number;
  /** LLM-as-judge base URL(s), comma-separated: LLM_AS_A_JUDGE_BASE (a served judge's URL, §serve) */
  judgeUrl: string;
  /** checkout of the CodeDance seed on the cluster (the job runs there); Ray: a local folder to upload or a URI */
  repoDir: string;
  /** checkpoints (trainer.default_local_dir/<experiment>); empty = verl's default checkpoints/<project>/<experiment> */
  outputDir: string;
  /** RL rollout engine */
  rolloutName: 'sglang' | 'vllm';
  rewardFunctionPath: string;
  rewardFunctionName: string;
  toolConfigPath: string;
  /** RL: new values for the seed's overrides (key → Hydra value) */
  overrides: Record<string, string>;
  /** RL: Hydra overrides appended last (the seed's "$@") */
  extraOverrides: string[];
  /** Slurm --time */
  timeLimit?: string;
}

export interface JobTemplate {
  id: TemplateId;
  label: string;
  description: string;
  kinds: readonly ('ray' | 'slurm')[];
  /** secrets the job reads from its environment when present; passed at submit time, never written down */
  secretEnv: readonly string[];
}

export const TEMPLATES: readonly JobTemplate[] = [
  {
    id: 'codedance-rl',
    label: 'CodeDance RL (verl main_ppo, the seed launch)',
    description: 'multi-turn code-as-tool GRPO with the LLM-as-judge reward, every seed override editable',
    kinds: ['ray', 'slurm'],
    secretEnv: ['WANDB_API_KEY'],
  },
  {
    id: 'codedance-sft',
    label: 'CodeDance SFT (verl FSDP SFT trainer)',
    description: 'supervised fine-tuning on the CodeDance-SFT trajectories',
    kinds: ['ray', 'slurm'],
    secretEnv: ['WANDB_API_KEY'],
  },
  {
    id: 'ray-on-slurm',
    label: 'Ray on Slurm: head + workers, then CodeDance RL',
    description: 'for Slurm clusters without a running Ray: starts Ray inside the allocation',
    kinds: ['slurm'],
    secretEnv: ['WANDB_API_KEY'],
  },
];

/** The defaults are the seed's (2 nodes × 8 GPUs, sglang, its data and reward). */
export function defaultParams(overrides: Partial<TemplateParams> = {}): TemplateParams {
  return {
    experimentName: 'codedance-rl',
    projectName: 'CodeDance',
    modelPath: 'Qwen/Qwen2.5-VL-7B-Instruct',
    dataRoot: 'data',
    trainFiles: '',
    valFiles: '',
    nodes: 2,
    gpusPerNode: 8,
    judgeUrl: 'http://127.0.0.1:18901/v1',
    repoDir: '',
    outputDir: '',
    rolloutName: 'sglang',
    rewardFunctionPath: SEED_REWARD_PATH,
    rewardFunctionName: SEED_REWARD_NAME,
    toolConfigPath: SEED_TOOL_CONFIG,
    overrides: {},
    extraOverrides: [],
    ...overrides,
  };
}

/** Checks the parameters; returns the problems (empty when fine), each naming the field. */
export function validateParams(p: TemplateParams): string[] {
  const bad: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p.experimentName)) bad.push('experimentName: 1-64 letters, digits, _ . -');
  if (!p.modelPath.trim()) bad.push('modelPath: empty');
  else if (/[\r\n\0]/.test(p.modelPath)) bad.push('modelPath: holds a line break');
  if (!Number.isInteger(p.nodes) || p.nodes < 1) bad.push('nodes: a whole number ≥ 1');
  if (!Number.isInteger(p.gpusPerNode) || p.gpusPerNode < 0) bad.push('gpusPerNode: a whole number ≥ 0');
  if (p.timeLimit !== undefined && p.timeLimit !== '' && !/^(?:\d+(?:-\d+)?(?::\d+){0,2}|UNLIMITED|INFINITE)$/i.test(p.timeLimit))
    bad.push(`timeLimit: ${JSON.stringify(p.timeLimit)} is not a Slurm time (D-HH:MM:SS, HH:MM:SS or minutes)`);
  if (/[\r\n\0]/.test(p.dataRoot)) bad.push('dataRoot: holds a line break');
  for (const u of p.judgeUrl
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!/^https?:\/\/[^\s,]+$/.test(u)) bad.push(`judgeUrl: '${u}' is not an http(s) URL`);
  }
  for (const [field, csv] of [
    ['trainFiles', p.trainFiles],
    ['valFiles', p.valFiles],
  ] as const) {
    if (!csv.trim()) continue;
    try {
      parquetList(field, csv);
    } catch (e) {
      bad.push((e as Error).message);
    }
  }
  bad.push(...rlProblems(rlFields(p)));
  return bad;
}

function rlFields(p: TemplateParams) {
  return {
    ...p,
    trainFiles: p.trainFiles.trim() || SEED_TRAIN_FILES.join(','),
    valFiles: p.valFiles.trim() || SEED_VAL_FILES.join(','),
  };
}

/** The environment of the seed's script: the checkpoint, the data folder, the judge. */
function rlEnv(p: TemplateParams): Record<string, string> {
  const env: Record<string, string> = { PT_CKPT_PATH: p.modelPath, DATA_ROOT: p.dataRoot, HYDRA_FULL_ERROR: '1' };
  if (p.judgeUrl.trim()) env.LLM_AS_A_JUDGE_BASE = p.judgeUrl.trim();
  return env;
}

/** The SFT trainer's environment (its own names). */
function sftEnv(p: TemplateParams): Record<string, string> {
  const env: Record<string, string> = {
    EXPERIMENT_NAME: p.experimentName,
    PROJECT_NAME: p.projectName,
    MODEL_PATH: p.modelPath,
    DATA_ROOT: p.dataRoot,
    N_GPUS_PER_NODE: String(p.gpusPerNode),
    SAVE_DIR: p.outputDir || 'checkpoints',
  };
  return env;
}

function sftTrainerArgs(): string {
  return [
    '  -m verl.trainer.fsdp_sft_trainer \\',
    '  data.train_files="$train_files" data.val_files="$val_files" \\',
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

/** SFT data when no files are picked: the CodeDance-SFT parquet export under DATA_ROOT. */
export const SFT_DEFAULT_TRAIN = 'codedance_sft_train.parquet';
export const SFT_DEFAULT_VAL = 'codedance_sft_val.parquet';

function sftData(p: TemplateParams): string {
  return [
    `train_files="${parquetList('trainFiles', p.trainFiles.trim() || SFT_DEFAULT_TRAIN)}"`,
    `val_files="${parquetList('valFiles', p.valFiles.trim() || SFT_DEFAULT_VAL)}"`,
  ].join('\n');
}

/** The job a template makes for a cluster kind. */
export function buildJob(id: TemplateId, p: TemplateParams, kind: 'ray' | 'slurm'): JobSpec {
  const problems = validateParams(p);
  if (problems.length) throw new JobsError('config', `template ${id}: ${problems.join('; ')}`);
  const tpl = TEMPLATES.find((t) => t.id === id);
  if (!tpl) throw new JobsError('config', `unknown template '${id}': use one of ${TEMPLATES.map((t) => t.id).join(', ')}`);
  if (!tpl.kinds.includes(kind)) throw new JobsError('config', `template ${id} is for ${tpl.kinds.join('/')} clusters, not ${kind}`);
  const checkpoints = p.outputDir ? `${p.outputDir}/${p.experimentName}` : `checkpoints/${p.projectName}/${p.experimentName}`;
  const base: JobSpec = {
    name: p.experimentName,
    entrypoint: '',
    env: rlEnv(p),
    workingDir: p.repoDir.trim() || undefined,
    metadata: { template: id, experiment_name: p.experimentName, model_path: p.modelPath, checkpoint_dir: checkpoints },
    nodes: p.nodes,
    gpusPerNode: p.gpusPerNode,
    timeLimit: p.timeLimit,
  };
  switch (id) {
    case 'codedance-rl':
      // on Ray, verl's driver runs on the head and its workers ask Ray for GPUs: the entrypoint reserves none
      return { ...base, entrypoint: rlEntrypoint(rlFields(p)) };
    case 'codedance-sft': {
      const env = sftEnv(p);
      if (kind === 'slurm')
        return { ...base, env: { ...env, NNODES: String(p.nodes) }, entrypoint: `${sftData(p)}\n${SFT_ENTRYPOINT_SLURM}` };
      return {
        ...base,
        nodes: 1,
        env: { ...env, NNODES: '1' },
        entrypoint: `${sftData(p)}\n${SFT_ENTRYPOINT_SINGLE}`,
        entrypointNumGpus: p.gpusPerNode || undefined,
      };
    }
    case 'ray-on-slurm':
      return {
        ...base,
        env: { ...base.env, N_GPUS_PER_NODE: String(p.gpusPerNode) },
        entrypoint: `${rayOnSlurmPreamble()}\n${rlEntrypoint(rlFields(p))}`,
      };
  }
}
