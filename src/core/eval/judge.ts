/**
 * The LLM-as-judge client: an OpenAI-compatible endpoint (or several, comma-separated like the
 * seed's `LLM_AS_A_JUDGE_BASE`, balanced by requests in flight through the model layer's
 * EndpointPool, with its retries and back-off on 429/5xx/dropped connections), and a verdict
 * cache kept in a JSONL file. Like the seed, every sample gets its own verdict (temperature 0.3,
 * a new seed): a verdict is reused only for the same sample (dataset and row) — a resumed or
 * re-scored sample costs nothing. `cacheScope: 'shared'` reuses a verdict across samples with
 * the same (question, answer, prediction): cheaper, not the seed's numbers. DeepEyes' judge
 * (reward/deepeyesJudge.ts) asks at temperature 0.0 with no seed (`randomSeed: false`).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { CodeDanceError } from '../errors';
import { createChatModel, type ModelClient } from '../model';
import { DEEPEYES_JUDGE_PROMPT_HASH } from '../reward/deepeyesJudge';
import { DEFAULT_JUDGE_MODEL, JUDGE_PROMPT_HASH } from '../reward/judgePrompts';
import type { Judge, JudgeCacheScope, JudgeReply, JudgeRequest } from '../reward/types';

export type { Judge, JudgeCacheScope, JudgeReply, JudgeRequest } from '../reward/types';

export interface JudgeOptions {
  /** base URL(s), comma-separated or a list; default `LLM_AS_A_JUDGE_BASE` */
  endpoints?: string | string[];
  model?: string;
  apiKey?: string;
  /** JSONL verdict cache; absent = in memory only */
  cacheFile?: string;
  /** default 'sample' (the seed's behaviour: a verdict per sample) */
  cacheScope?: JudgeCacheScope;
  /** per-request timeout, ms (default 120000) */
  requestTimeoutMs?: number;
  maxRetries?: number;
  log?: (line: string) => void;
}

export function judgeEndpointsFrom(explicit: string | string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = explicit ?? env.LLM_AS_A_JUDGE_BASE ?? '';
  const list = Array.isArray(raw) ? raw : raw.split(',');
  return list.map((s) => s.trim()).filter(Boolean);
}

/** The verdict cache key; `sample` set = this sample's verdict only (no key: not cached). */
export function cacheKey(
  kind: string,
  question: string,
  answer: string,
  prediction: string,
  model: string,
  promptHash: string,
  sample?: string,
): string {
  const parts: unknown[] = [kind, question, answer, prediction, model, promptHash];
  if (sample !== undefined) parts.push({ sample });
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export class JudgeCache {
  private readonly map = new Map<string, string>();
  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const o = JSON.parse(line) as { key: string; text: string };
          if (typeof o.key === 'string' && typeof o.text === 'string') this.map.set(o.key, o.text);
        } catch {
          /* a line cut by a kill: ignored */
        }
      }
    }
  }
  get size(): number {
    return this.map.size;
  }
  get(key: string): string | undefined {
    return this.map.get(key);
  }
  set(key: string, text: string): void {
    if (this.map.get(key) === text) return;
    this.map.set(key, text);
    if (this.file) appendFileSync(this.file, JSON.stringify({ key, text }) + '\n');
  }
}

export class HttpJudge implements Judge {
  readonly model: string;
  readonly promptHash = JUDGE_PROMPT_HASH;
  readonly endpoints: string[];
  readonly cacheScope: JudgeCacheScope;
  private readonly client: ModelClient;
  private readonly cache: JudgeCache;
  stats = { requests: 0, cacheHits: 0, errors: 0 };

  constructor(opts: JudgeOptions = {}) {
    this.endpoints = judgeEndpointsFrom(opts.endpoints);
    if (!this.endpoints.length)
      throw new CodeDanceError('config', 'no judge endpoint', {
        fix: { text: 'give the LLM judge an endpoint (or set LLM_AS_A_JUDGE_BASE), or score without a judge', setting: 'judge.endpoint' },
      });
    this.model = opts.model || DEFAULT_JUDGE_MODEL;
    this.cacheScope = opts.cacheScope ?? 'sample';
    this.client = createChatModel({
      endpoints: this.endpoints,
      apiKey: opts.apiKey,
      requestTimeoutMs: opts.requestTimeoutMs ?? 120_000,
      retry: { maxRetries: opts.maxRetries ?? 6 },
      log: opts.log,
    });
    this.cache = new JudgeCache(opts.cacheFile);
  }

  async ask(req: JudgeRequest, signal?: AbortSignal): Promise<JudgeReply> {
    // DeepEyes' judge has strings of its own: its verdicts are keyed by their hash
    const hash = req.kind === 'deepeyes' ? DEEPEYES_JUDGE_PROMPT_HASH : this.promptHash;
    const key =
      this.cacheScope === 'shared'
        ? cacheKey(req.kind, req.question, req.answer, req.prediction, this.model, hash)
        : req.sample !== undefined
          ? cacheKey(req.kind, req.question, req.answer, req.prediction, this.model, hash, req.sample)
          : undefined;
    const hit = key !== undefined ? this.cache.get(key) : undefined;
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return { text: hit, cached: true };
    }
    this.stats.requests++;
    const messages = [
      ...(req.system !== undefined ? [{ role: 'system' as const, content: req.system }] : []),
      { role: 'user' as const, content: req.prompt },
    ];
    try {
      const r = await this.client.complete(
        {
          model: this.model,
          messages: messages as never,
          temperature: req.temperature,
          ...(req.randomSeed === false ? {} : { extra: { seed: Math.floor(Math.random() * 1_000_001) } }),
        },
        { signal },
      );
      if (key !== undefined) this.cache.set(key, r.content ?? '');
      return { text: r.content ?? '', cached: false };
    } catch (e) {
      this.stats.errors++;
      throw e;
    }
  }
}
