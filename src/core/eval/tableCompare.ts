/**
 * Whether runs can be compared: the settings that change a run's numbers, read from its manifest
 * (manifest.ts) — the protocol (prompt/tool format) and its prompts, the scoring route, the judge
 * model, max turns, the image budget (max_pixels, images per request), the dataset file and the
 * Hub revision of the catalog set it was converted from (`benchmark`, benchmarkRecord.ts) — and
 * the flags a table row (or an A/B report) gets when its runs differ in one, or a run does not
 * record one (a manifest written before the field existed, or none: the seed's own files).
 */
import type { BenchmarkRecord } from './benchmarkRecord';
import type { ImageBudget, RunManifest } from './manifest';
import { comparisonWarnings } from './report';
import type { ReportRun } from './reportTypes';
import type { CellSettings, SettingField, SettingFlag } from './tableTypes';

export const UNKNOWN = 'unknown';

/** The fields in the order they are shown and flagged, with their names in messages. */
export const SETTING_FIELDS: readonly [SettingField, string][] = [
  ['protocol', 'protocol'],
  ['prompts', 'protocol prompts'],
  ['scoring', 'scoring'],
  ['judge', 'judge model'],
  ['maxTurns', 'max turns'],
  ['imageBudget', 'image budget'],
  ['dataset', 'dataset file'],
  ['revision', 'benchmark revision'],
];

/** the revision of a run whose manifest names no catalog set: compared with nothing (its dataset file still is) */
export const NO_REVISION = 'none';

const FIELD_NAME = Object.fromEntries(SETTING_FIELDS) as Record<SettingField, string>;

type Manifest = Partial<RunManifest> & Record<string, unknown>;

const short = (hash: unknown) => (typeof hash === 'string' && hash ? hash.slice(0, 12) : UNKNOWN);

/** "max_pixels 12845056 (smart resize), 32 images/request", "original size, 32 images/request" */
export function describeImageBudget(b: Partial<ImageBudget> | undefined): string {
  if (!b || typeof b !== 'object' || typeof b.resize !== 'string') return UNKNOWN;
  const size =
    b.resize === 'qwen-smart'
      ? `max_pixels ${b.max_pixels ?? '?'} (smart resize)`
      : b.resize === 'original'
        ? 'original size'
        : 'not resized';
  return `${size}, ${b.max_request_images ?? '?'} images/request`;
}

/** "AI4Math/MathVista@2b6ad69445fb", "… (offline copy)" (its revision not checked), or 'none' */
function describeRevision(b: unknown): string {
  const r = (b ?? {}) as Partial<BenchmarkRecord>;
  if (typeof r.repo !== 'string' || typeof r.revision !== 'string') return NO_REVISION;
  return `${r.repo}@${r.revision.slice(0, 12)}${r.offline_copy ? ' (offline copy)' : ''}`;
}

/** "llm-judge", "llm-judge, strict verdict, math check approximate", "no-judge (normalized match)", "llm-judge, judge style deepeyes, …" */
function describeScoring(m: Manifest): string {
  const j = m.judge;
  if (!j || typeof j !== 'object') return UNKNOWN;
  const parts = [j.mode === 'no-judge' ? 'no-judge (normalized match)' : String(j.mode ?? UNKNOWN)];
  // DeepEyes' judge (--judge-style deepeyes) reads and judges answers by other rules, with or without its LLM; absent: the seed's
  if (j.style === 'deepeyes') parts.push('judge style deepeyes');
  if (j.mode !== 'no-judge') {
    if (j.strict_verdict) parts.push('strict verdict');
    if (j.cache === 'shared') parts.push('shared judge cache');
    if (j.prompt_hash) parts.push(`judge prompts ${short(j.prompt_hash)}`);
  }
  if (m.math_check?.mode) parts.push(`math check ${m.math_check.mode}`);
  return parts.join(', ');
}

/** One results file's settings, from its manifest (absent: all unknown) and the formats its samples' trajectories name. */
export function manifestSettings(manifest: Record<string, unknown> | undefined, sampleProtocols: ReadonlySet<string>): CellSettings {
  const m = (manifest ?? {}) as Manifest;
  const protocols = [...new Set([...(typeof m.protocol === 'string' ? [m.protocol] : []), ...sampleProtocols])];
  return {
    protocol: protocols.length > 1 ? `mixed: ${protocols.join('; ')}` : (protocols[0] ?? UNKNOWN),
    prompts: short(m.protocol_template_hash),
    scoring: manifest ? describeScoring(m) : UNKNOWN,
    judge: m.judge?.mode === 'no-judge' ? 'none' : typeof m.judge?.model === 'string' ? m.judge.model : UNKNOWN,
    maxTurns: typeof m.max_turns === 'number' ? String(m.max_turns) : UNKNOWN,
    imageBudget: describeImageBudget(m.image_budget),
    dataset: short(m.dataset?.sha256),
    revision: describeRevision(m.benchmark),
  };
}

/** The settings of samples from several results files: each field's one value, or `mixed: a; b`. */
export function mergeSettings(all: readonly CellSettings[]): CellSettings {
  const out = {} as CellSettings;
  for (const [field] of SETTING_FIELDS) {
    const values = [...new Set(all.flatMap((s) => (s[field].startsWith('mixed: ') ? s[field].slice(7).split('; ') : [s[field]])))];
    out[field] = values.length > 1 ? `mixed: ${values.join('; ')}` : (values[0] ?? UNKNOWN);
  }
  return out;
}

/**
 * The flags of one row: for each field, its runs' values differ (or a run mixes values); and for
 * each run, the fields it does not record. `settings`: by run index, the runs the row has (two or
 * more: one run alone is compared with nothing).
 */
export function settingFlags(benchmark: string, settings: ReadonlyMap<number, CellSettings>, labels: readonly string[]): SettingFlag[] {
  if (settings.size < 2) return [];
  const flags: SettingFlag[] = [];
  const runs = [...settings.keys()].sort((x, y) => x - y);
  const protocolsDiffer = differs(runs.map((r) => settings.get(r)!.protocol));
  for (const [field, name] of SETTING_FIELDS) {
    const values = runs.map((r) => settings.get(r)![field]);
    // a run without a catalog revision (its own dataset, an older manifest) is compared by its dataset file alone
    const compared = field === 'revision' ? values.filter((v) => v !== NO_REVISION) : values;
    if (!differs(compared) || (field === 'prompts' && protocolsDiffer)) continue;
    const shown = runs.map((r, i) => `${labels[r]}: ${values[i]}`).join(', ');
    const why = WHY_DIFFERS[field] ?? '';
    flags.push({
      benchmark,
      kind: 'differs',
      field,
      values: Object.fromEntries(runs.map((r, i) => [r, values[i]])),
      message: `${name} differs (${shown})${why}`,
    });
  }
  for (const r of runs) {
    const fields = SETTING_FIELDS.map(([f]) => f).filter((f) => settings.get(r)![f] === UNKNOWN);
    if (fields.length)
      flags.push({
        benchmark,
        kind: 'unknown',
        run: r,
        fields,
        message: `${labels[r]} does not record its ${fields.map((f) => FIELD_NAME[f]).join(', ')} (a manifest written before ${fields.length > 1 ? 'they were' : 'it was'} recorded, or none: the seed's own files)`,
      });
  }
  return flags;
}

const WHY_DIFFERS: Partial<Record<SettingField, string>> = {
  dataset: ' (samples are matched by their index in it: they may be different questions)',
  revision: ' (its rows come from another commit or repository: questions, images or answers may differ)',
};

/** true when the known values are not all one, or one of them is itself mixed */
function differs(values: readonly string[]): boolean {
  const known = values.filter((v) => v !== UNKNOWN);
  return new Set(known).size > 1 || known.some((v) => v.startsWith('mixed: '));
}

/**
 * What the A/B report says about comparing its two runs: the format warnings of the report
 * (comparisonWarnings: different or mixed protocols) and every other setting that differs or that
 * a run does not record (the same rules as the results table).
 */
export function reportComparisonWarnings(a: ReportRun, b: ReportRun): string[] {
  const settings = new Map(
    [a, b].map((r, i) => [i, manifestSettings(r.manifest, new Set(r.protocols ?? (r.protocol ? [r.protocol] : [])))] as const),
  );
  const labels = [`run ${a.label}`, `run ${b.label}`];
  const others = settingFlags('', settings, labels)
    .filter((f) => f.kind === 'unknown' || f.field !== 'protocol')
    .map((f) => f.message);
  return [...comparisonWarnings(a, b), ...others];
}
