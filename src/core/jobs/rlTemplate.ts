/**
 * The CodeDance RL launch, rebuilt from the seed's
 * `examples/run_qwen2.5-vl-7b-sft-tool-codeformat_step_beta0.1.sh` (facts:
 * ../shared/docs/codedance-training.md): `python3 -m verl.trainer.main_ppo` with the seed's
 * Hydra overrides, in the foreground (the seed backgrounds itself with `nohup … &`, which would
 * end a job at once while training runs unsupervised). Every override of the seed is here as a
 * visible default; a field changes its value, user overrides come last (the seed's `"$@"`).
 */
import { JobsError } from './errors';
import { shQuote } from './slurmText';

/** The seed's overrides, in its order, exactly as its script writes them. */
export const SEED_RL_OVERRIDES: readonly (readonly [key: string, value: string])[] = [
  ['algorithm.adv_estimator', 'grpo'],
  ['data.train_batch_size', '256'],
  ['data.max_prompt_length', '10240'],
  ['data.max_response_length', '10240'],
  ['data.filter_overlong_prompts', 'True'],
  ['data.truncation', "'error'"],
  ['data.return_raw_chat', 'True'],
  ['actor_rollout_ref.model.path', '"$PT_CKPT_PATH"'],
  ['actor_rollout_ref.actor.optim.lr', '1e-6'],
  ['actor_rollout_ref.model.use_remove_padding', 'True'],
  ['actor_rollout_ref.actor.ppo_mini_batch_size', '256'],
  ['actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu', '4'],
  ['actor_rollout_ref.actor.use_kl_loss', 'False'],
  ['actor_rollout_ref.actor.kl_loss_coef', '0.0'],
  ['actor_rollout_ref.actor.kl_loss_type', 'low_var_kl'],
  ['actor_rollout_ref.actor.entropy_coeff', '0'],
  ['actor_rollout_ref.model.enable_gradient_checkpointing', 'True'],
  ['actor_rollout_ref.actor.fsdp_config.param_offload', 'True'],
  ['actor_rollout_ref.actor.fsdp_config.optimizer_offload', 'True'],
  ['actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu', '4'],
  ['actor_rollout_ref.rollout.tensor_model_parallel_size', '1'],
  ['actor_rollout_ref.rollout.name', '$rollout_name'],
  ['actor_rollout_ref.rollout.gpu_memory_utilization', '0.3'],
  ['actor_rollout_ref.rollout.n', '8'],
  ['actor_rollout_ref.rollout.max_num_batched_tokens', '32768'],
  ['actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu', '4'],
  ['actor_rollout_ref.ref.fsdp_config.param_offload', 'True'],
  ['algorithm.use_kl_in_reward', 'False'],
  ['++algorithm.use_step_reward', 'True'],
  ['++algorithm.tool_decay_gamma', '4'],
  ['trainer.critic_warmup', '0'],
  ['trainer.logger', "['console','wandb']"],
  ['trainer.project_name', "'CodeDance'"],
  ['trainer.experiment_name', "'codeformat-34k-step-beta-0.2'"],
  ['trainer.n_gpus_per_node', '8'],
  ['trainer.nnodes', '2'],
  ['actor_rollout_ref.nccl_timeout', '3600'],
  ['trainer.save_freq', '20'],
  ['trainer.test_freq', '300'],
  ['trainer.total_epochs', '2'],
  ['trainer.val_before_train', 'False'],
  ['trainer.rollout_data_dir', "'./rollout_sft_step/'"],
  ['trainer.validation_data_dir', "'./validation_sft_step/'"],
  ['custom_reward_function.path', './verl/utils/reward_score/llm_judge_qwen_tool_step.py'],
  ['custom_reward_function.name', 'compute_score_batch'],
  ['reward_model.reward_manager', 'batch'],
  ['data.train_files', '"$train_files"'],
  ['data.val_files', '"$val_files"'],
  ['actor_rollout_ref.rollout.multi_turn.tool_config_path', '"$CONFIG_PATH/tool_config.yaml"'],
];

/** The seed's data, file names under `$DATA_ROOT`. */
export const SEED_TRAIN_FILES = [
  'df_toolbox_v1_new_format.parquet',
  'df_toolbox_v2_new_format.parquet',
  'df_thinklite_new_format.parquet',
  'chart_refocus_train_filter_v1.parquet',
  'pixmo_train_filter.parquet',
  'sa1b_rl_filtered.parquet',
];
export const SEED_VAL_FILES = [
  'vstar_val.parquet',
  'countbench_QA_eval.parquet',
  'pixmo_test.parquet',
  'mathvision_testmini.parquet',
  'mathvista_testmini.parquet',
  'mathverse_vision_only_testmini.parquet',
];

export const SEED_REWARD_PATH = './verl/utils/reward_score/llm_judge_qwen_tool_step.py';
export const SEED_REWARD_NAME = 'compute_score_batch';
export const SEED_TOOL_CONFIG = '$CONFIG_PATH/tool_config.yaml';

export interface RlFields {
  experimentName: string;
  projectName: string;
  nodes: number;
  gpusPerNode: number;
  rolloutName: 'sglang' | 'vllm';
  /** comma-separated; a bare or relative name is read under $DATA_ROOT */
  trainFiles: string;
  valFiles: string;
  rewardFunctionPath: string;
  rewardFunctionName: string;
  /** `$CONFIG_PATH/…` stays expandable */
  toolConfigPath: string;
  /** trainer.default_local_dir; empty = verl's default (checkpoints/<project>/<experiment>) */
  outputDir: string;
  /** seed override key → a new value (Hydra text, given to Hydra as is) */
  overrides: Record<string, string>;
  /** Hydra overrides appended last, one per entry (the seed's "$@") */
  extraOverrides: string[];
}

const PATH_OK = /^[A-Za-z0-9_.,/+=:@~-]+$/;
const HYDRA_KEY = /^(?:\+{1,2}|~)?[A-Za-z_][A-Za-z0-9_.@/-]*$/;

/** One data file as the shell word inside the Python-list string (`$DATA_ROOT/x` stays expandable). */
function dataFile(field: string, f: string): string {
  if (!PATH_OK.test(f) || f.includes(','))
    throw new JobsError(
      'config',
      `${field}: ${JSON.stringify(f)} is not a plain path: use letters, digits and / . _ - (one path per comma-separated entry)`,
    );
  return f.startsWith('/') || f.includes('://') ? f : `\${DATA_ROOT}/${f.replace(/^\.\//, '')}`;
}

/** `['a.parquet','b.parquet']` for the seed's `train_files="…"` (a Python list string, $DATA_ROOT expanded by the shell). */
export function parquetList(field: string, csv: string): string {
  const files = csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!files.length) throw new JobsError('config', `${field}: no files: give one or more parquet files, comma-separated`);
  return `[${files.map((f) => `'${dataFile(field, f)}'`).join(',')}]`;
}

/** Problems with the RL fields, each naming the field. */
export function rlProblems(f: RlFields): string[] {
  const bad: string[] = [];
  if (f.rolloutName !== 'sglang' && f.rolloutName !== 'vllm') bad.push(`rolloutName: '${String(f.rolloutName)}' is not sglang or vllm`);
  for (const [field, v] of [
    ['rewardFunctionPath', f.rewardFunctionPath],
    ['rewardFunctionName', f.rewardFunctionName],
    ['outputDir', f.outputDir],
  ] as const) {
    if (v && !PATH_OK.test(v)) bad.push(`${field}: ${JSON.stringify(v)} may hold only letters, digits and / . _ - ~`);
  }
  if (!/^(?:\$CONFIG_PATH\/)?[A-Za-z0-9_.,/+=:@~-]+$/.test(f.toolConfigPath))
    bad.push(`toolConfigPath: ${JSON.stringify(f.toolConfigPath)} may hold only letters, digits and / . _ - (and a leading $CONFIG_PATH/)`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f.projectName)) bad.push('projectName: 1-64 letters, digits, _ . -');
  const seedKeys = new Set(SEED_RL_OVERRIDES.map(([k]) => k));
  for (const [k, v] of Object.entries(f.overrides)) {
    if (!seedKeys.has(k)) bad.push(`overrides: '${k}' is not one of the seed's overrides: add it as an extra override instead`);
    else if (/[\r\n\0]/.test(v)) bad.push(`overrides: the value of ${k} holds a line break`);
  }
  for (const o of f.extraOverrides) {
    const key = o.split('=')[0];
    if (!HYDRA_KEY.test(key) || /[\r\n\0]/.test(o))
      bad.push(`extraOverrides: '${o.replace(/[\r\n]/g, '⏎')}' is not a Hydra override (key=value, +key=value, ++key=value or ~key)`);
  }
  return bad;
}

/** The override text for one seed key: the seed's own, a field's value, or the user's (quoted as one shell word). */
function overrideWord(key: string, seedValue: string, f: RlFields): string {
  const user = f.overrides[key];
  if (user !== undefined) return shQuote(`${key}=${user}`);
  switch (key) {
    case 'trainer.project_name':
      return `${key}='${f.projectName}'`;
    case 'trainer.experiment_name':
      return `${key}='${f.experimentName}'`;
    case 'trainer.n_gpus_per_node':
      return `${key}=${f.gpusPerNode}`;
    case 'trainer.nnodes':
      return `${key}=${f.nodes}`;
    case 'custom_reward_function.path':
      return `${key}=${f.rewardFunctionPath}`;
    case 'custom_reward_function.name':
      return `${key}=${f.rewardFunctionName}`;
    case 'actor_rollout_ref.rollout.multi_turn.tool_config_path':
      return `${key}="${f.toolConfigPath}"`;
    default:
      return `${key}=${seedValue}`;
  }
}

/** The entrypoint: the seed's variables, then `python3 -m verl.trainer.main_ppo` in the foreground, one override a line. */
export function rlEntrypoint(f: RlFields): string {
  const problems = rlProblems(f);
  if (problems.length) throw new JobsError('config', `template codedance-rl: ${problems.join('; ')}`);
  const words = SEED_RL_OVERRIDES.map(([k, v]) => overrideWord(k, v, f));
  if (f.outputDir) words.push(`trainer.default_local_dir=${f.outputDir}/${f.experimentName}`);
  words.push(...f.extraOverrides.map(shQuote));
  return [
    '# the seed launch (examples/run_qwen2.5-vl-7b-sft-tool-codeformat_step_beta0.1.sh), in the foreground',
    'PROJECT_DIR="$(pwd)"',
    'CONFIG_PATH="$PROJECT_DIR/configs"',
    'mkdir -p logs',
    `rollout_name=${f.rolloutName}`,
    `train_files="${parquetList('trainFiles', f.trainFiles)}"`,
    `val_files="${parquetList('valFiles', f.valFiles)}"`,
    `python3 -m verl.trainer.main_ppo --config-path="$CONFIG_PATH" --config-name='multiturn_config.yaml' \\`,
    ...words.map((w, i) => `  ${w}${i < words.length - 1 ? ' \\' : ''}`),
  ].join('\n');
}
