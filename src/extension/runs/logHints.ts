/**
 * Where a run writes, read from its log when there is no job command to read it from (a log
 * file opened on its own). verl prints, in CodeDance's verl (verl/trainer/main_ppo.py,
 * verl/trainer/ppo/ray_trainer.py): the resolved config at start
 * (`pprint(OmegaConf.to_container(config, resolve=True))`: `'experiment_name': 'x'`,
 * `'rollout_data_dir': './rollout_sft_step/'`, `'default_local_dir': 'checkpoints/p/x'`), each
 * dump (`Dumped generations to ./rollout_sft_step/7.jsonl`) and each save
 * (`local_global_step_folder: checkpoints/p/x/global_step_20`). The paths are as the trainer saw
 * them: relative ones are relative to the folder it ran in.
 */

export interface LogHints {
  experiment?: string;
  project?: string;
  rolloutDir?: string;
  validationDir?: string;
  checkpointDir?: string;
  /** every folder a `Dumped generations to` line named, in order */
  dumpDirs: string[];
}

const configValue = (text: string, key: string): string | undefined => {
  let found: string | undefined;
  for (const m of text.matchAll(new RegExp(`'${key}': '([^'\\n]*)'`, 'g'))) found = m[1];
  return found;
};

const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);

export function logHints(text: string): LogHints {
  const dumpDirs: string[] = [];
  for (const m of text.matchAll(/Dumped generations to (\S+)\/\d+\.jsonl/g)) if (!dumpDirs.includes(m[1])) dumpDirs.push(m[1]);
  const saved = [...text.matchAll(/local_global_step_folder: (\S+)\/global_step_\d+/g)].at(-1)?.[1];
  const rollout = configValue(text, 'rollout_data_dir');
  const validation = configValue(text, 'validation_data_dir');
  const norm = (p: string | undefined) => (p ? trimSlash(p) : undefined);
  const isValidation = (d: string) => /(^|[_-])val/i.test(d.split('/').pop() ?? '');
  const h: LogHints = {
    experiment: configValue(text, 'experiment_name'),
    project: configValue(text, 'project_name'),
    rolloutDir: norm(rollout) ?? dumpDirs.find((d) => !isValidation(d)),
    validationDir: norm(validation) ?? dumpDirs.find(isValidation),
    checkpointDir: norm(configValue(text, 'default_local_dir') ?? saved),
    dumpDirs,
  };
  for (const k of Object.keys(h) as (keyof LogHints)[]) if (h[k] === undefined) delete h[k];
  return h;
}

/** The same, merged with what a later part of the log says (a value once known stays unless the log names another). */
export function mergeHints(a: LogHints, b: LogHints): LogHints {
  return { ...a, ...b, dumpDirs: [...new Set([...a.dumpDirs, ...b.dumpDirs])] };
}
