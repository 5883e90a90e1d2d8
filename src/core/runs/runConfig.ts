/**
 * Where a run writes, read from the job's own command (Ray: its entrypoint; Slurm: its batch
 * script): the Hydra overrides of `verl.trainer.main_ppo` as the shell would pass them (quotes
 * removed, the script's variables expanded where the script sets them), with verl's defaults
 * (verl/trainer/config/ppo_trainer.yaml: `trainer.project_name: verl_examples`,
 * `experiment_name: gsm8k`, `rollout_data_dir: null`, `validation_data_dir: null`,
 * `default_local_dir: checkpoints/${trainer.project_name}/${trainer.experiment_name}`,
 * `save_freq: -1`, `test_freq: -1`). Relative paths are joined to the job's working folder.
 */
import * as posix from 'node:path/posix';
import { readCommands, type ShellState } from './shellWords';

export interface RunConfig {
  project?: string;
  experiment?: string;
  /** `trainer.rollout_data_dir`: undefined when the run dumps no rollouts (verl's default) */
  rolloutDir?: string;
  /** `trainer.validation_data_dir`: undefined when validation is not dumped */
  validationDir?: string;
  /** `trainer.default_local_dir` (verl's default: checkpoints/<project>/<experiment>) */
  checkpointDir: string;
  valFiles: string[];
  trainFiles: string[];
  saveFreq?: number;
  testFreq?: number;
  /** the working folder the relative paths were joined to, when known */
  workingDir?: string;
}

const OVERRIDE = /^(?:\+{1,2})?([A-Za-z_][\w@/-]*(?:\.[\w@/-]+)+)=(.*)$/s;
const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** A Hydra value without its quotes; undefined for `null`. */
function hydraScalar(v: string): string | undefined {
  const t = v.trim();
  if (t === 'null') return undefined;
  const q = t[0];
  if ((q === "'" || q === '"') && t.length >= 2 && t.endsWith(q)) return t.slice(1, -1).replace(/\\(['"\\])/g, '$1');
  return t;
}

/** A Hydra list (`['a','b']`, `[a, b]`) or one value, as strings. */
function hydraList(v: string): string[] {
  const t = v.trim();
  if (!(t.startsWith('[') && t.endsWith(']'))) {
    const one = hydraScalar(t);
    return one ? [one] : [];
  }
  const items: string[] = [];
  let cur = '';
  let quote = '';
  for (const c of t.slice(1, -1)) {
    if (quote) {
      if (c === quote) quote = '';
      cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === ',') {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  items.push(cur);
  return items.map(hydraScalar).filter((x): x is string => !!x);
}

/** Every Hydra override of the script's commands (`key=value` words whose key has a dot), the last one of a key winning. */
function collectOverrides(script: string, st: ShellState): Map<string, string> {
  const overrides = new Map<string, string>();
  readCommands(script, st, (words) => {
    const first = words[0] === 'export' || words[0] === 'declare' ? 1 : 0;
    if (words.slice(first).every((w) => ASSIGN.test(w))) {
      for (const w of words.slice(first)) {
        const [, k, v] = ASSIGN.exec(w)!;
        st.vars[k] = v;
      }
      return;
    }
    if (words[0] === 'cd' && words[1] && (words[1].startsWith('/') || st.cwd)) {
      st.cwd = posix.resolve(st.cwd ?? '/', words[1]);
      return;
    }
    for (const w of words) {
      const m = OVERRIDE.exec(w);
      if (m) overrides.set(m[1], m[2]);
    }
  });
  return overrides;
}

/**
 * The Hydra overrides a script passes (key → value as the shell hands it over, Hydra's own quotes
 * kept), and the folder it runs in at the end (`workingDir`, else the script's `#SBATCH --chdir`,
 * then its `cd`s).
 */
export function scriptOverrides(
  script: string,
  workingDir?: string,
  env: Record<string, string> = {},
): { overrides: Map<string, string>; cwd?: string } {
  const chdir = /^#SBATCH\s+(?:--chdir[= ]|-D\s*)(\S+)/m.exec(script)?.[1];
  const st: ShellState = { vars: { ...env }, cwd: workingDir ?? chdir };
  const overrides = collectOverrides(script, st);
  return { overrides, cwd: st.cwd };
}

/** A path as the trainer sees it: relative ones under the working folder; no trailing slash. */
function runPath(p: string, cwd: string | undefined): string {
  // absolute, home, a URI, or under a variable the script does not set: as it is
  const asIs = /^[/~$]/.test(p) || p.includes('://') || cwd === undefined;
  const abs = asIs ? p : posix.join(cwd, p);
  const n = abs.includes('://') ? abs : posix.normalize(abs);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

function int(v: string | undefined): number | undefined {
  const s = v === undefined ? undefined : hydraScalar(v);
  return s !== undefined && /^-?\d+$/.test(s) ? Number(s) : undefined;
}

/**
 * The run's folders and data from its command or batch script. `workingDir`: the folder the job
 * runs in (Slurm: WorkDir, or the script's `#SBATCH --chdir`); `env`: variables the job gets
 * from outside the script (its JobSpec env).
 */
export function runConfigFromJob(entrypointOrScript: string, workingDir?: string, env: Record<string, string> = {}): RunConfig {
  const { overrides: o, cwd } = scriptOverrides(entrypointOrScript, workingDir, env);
  const get = (k: string) => {
    const v = o.get(k);
    return v === undefined ? undefined : hydraScalar(v);
  };
  const project = o.has('trainer.project_name') ? get('trainer.project_name') : 'verl_examples';
  const experiment = o.has('trainer.experiment_name') ? get('trainer.experiment_name') : 'gsm8k';
  const interpolate = (p: string) =>
    p.replace(/\$\{trainer\.project_name\}/g, project ?? '').replace(/\$\{trainer\.experiment_name\}/g, experiment ?? '');
  const dir = (k: string) => {
    const v = get(k);
    return v ? runPath(interpolate(v), cwd) : undefined;
  };
  return {
    project,
    experiment,
    rolloutDir: dir('trainer.rollout_data_dir'),
    validationDir: dir('trainer.validation_data_dir'),
    checkpointDir: dir('trainer.default_local_dir') ?? runPath(`checkpoints/${project ?? ''}/${experiment ?? ''}`, cwd),
    valFiles: hydraList(o.get('data.val_files') ?? '').map((f) => runPath(f, cwd)),
    trainFiles: hydraList(o.get('data.train_files') ?? '').map((f) => runPath(f, cwd)),
    saveFreq: int(o.get('trainer.save_freq')),
    testFreq: int(o.get('trainer.test_freq')),
    ...(cwd !== undefined && { workingDir: cwd }),
  };
}
