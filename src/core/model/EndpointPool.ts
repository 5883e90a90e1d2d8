/**
 * Several OpenAI-compatible base URLs behind one client (the seed passes them comma-separated).
 * `acquire()` picks one by round-robin or by fewest requests in flight; an endpoint whose
 * request failed with a connection error or a 5xx/429 is cooled down for `cooldownMs` and
 * skipped while another one is usable (when all are cooling, the one that cools first is used).
 */
import { ModelConfigError } from './errors';
import { displayUrl } from '../secrets';
import type { EndpointConfig, PoolStrategy } from './types';

export interface EndpointPoolOptions {
  strategy?: PoolStrategy;
  /** how long a failed endpoint is skipped, ms; default 5000 */
  cooldownMs?: number;
  /** API key for endpoints that have none of their own */
  apiKey?: string;
  /** clock, for tests */
  now?: () => number;
}

export interface EndpointStats {
  baseUrl: string;
  inFlight: number;
  requests: number;
  failures: number;
  coolingUntil?: number;
}

/** One use of an endpoint; release it exactly once with how the request ended. */
export interface EndpointLease {
  readonly endpoint: Readonly<EndpointConfig>;
  release(outcome: 'ok' | 'failed' | 'neutral'): void;
}

interface Slot {
  config: EndpointConfig;
  inFlight: number;
  requests: number;
  failures: number;
  coolingUntil: number;
}

/**
 * Normalizes one base URL: trimmed, no trailing slash, http(s) only, no `user:password@`
 * (a password in a URL ends up in settings files, logs and shell history: keys belong in the
 * API key store).
 */
export function normalizeBaseUrl(raw: string): string {
  const url = raw.trim().replace(/\/+$/, '');
  const problem = endpointUrlProblem(url);
  if (problem) throw problem;
  return url;
}

/**
 * Why `raw` cannot be a model endpoint (a `ModelConfigError` naming the cause and the fix), or
 * undefined when it can. For input boxes: call it before anything is saved.
 */
export function endpointUrlProblem(raw: string): ModelConfigError | undefined {
  const url = raw.trim().replace(/\/+$/, '');
  const example = { text: 'use an OpenAI-compatible base URL such as http://127.0.0.1:8000/v1', setting: 'model.endpoints' } as const;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return new ModelConfigError(`model endpoint '${displayUrl(raw.trim())}' is not a URL`, example);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return new ModelConfigError(`model endpoint '${displayUrl(raw.trim())}' must be http:// or https://`, example);
  if (parsed.username || parsed.password)
    return new ModelConfigError(
      `model endpoint '${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}' has a user name or password in the URL, which would be stored and logged with it`,
      {
        text: 'remove the user:password@ part from the URL and give the key through the API key store instead',
        setting: 'model.apiKey',
      },
    );
  return undefined;
}

/**
 * Endpoints from the seed's comma-separated strings. `apiKeys` may hold one key for all, or
 * one per URL (paired in order); an empty list means no key.
 */
export function parseEndpoints(urls: string | readonly string[], apiKeys?: string | readonly string[]): EndpointConfig[] {
  const list = (typeof urls === 'string' ? urls.split(',') : urls.flatMap((u) => u.split(','))).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw noEndpoint();
  const keys =
    apiKeys === undefined ? [] : (typeof apiKeys === 'string' ? apiKeys.split(',') : [...apiKeys]).map((s) => s.trim()).filter(Boolean);
  if (keys.length > 1 && keys.length !== list.length)
    throw new ModelConfigError(`${list.length} model endpoints but ${keys.length} API keys`, {
      text: 'give one key for all endpoints or one per endpoint, in the same order',
      setting: 'model.apiKey',
    });
  return list.map((u, i) => ({ baseUrl: normalizeBaseUrl(u), ...(keys.length ? { apiKey: keys.length === 1 ? keys[0] : keys[i] } : {}) }));
}

function noEndpoint(): ModelConfigError {
  return new ModelConfigError('no model endpoint configured', {
    text: 'set one, e.g. http://127.0.0.1:8000/v1',
    setting: 'model.endpoints',
  });
}

export class EndpointPool {
  readonly strategy: PoolStrategy;
  readonly cooldownMs: number;
  private readonly slots: Slot[];
  private readonly now: () => number;
  private next = 0;

  constructor(endpoints: string | readonly (string | EndpointConfig)[], options: EndpointPoolOptions = {}) {
    const configs: EndpointConfig[] =
      typeof endpoints === 'string'
        ? parseEndpoints(endpoints)
        : endpoints.flatMap((e) => (typeof e === 'string' ? parseEndpoints(e) : [{ ...e, baseUrl: normalizeBaseUrl(e.baseUrl) }]));
    if (configs.length === 0) throw noEndpoint();
    this.slots = configs.map((config) => ({
      config: { ...config, apiKey: config.apiKey ?? options.apiKey },
      inFlight: 0,
      requests: 0,
      failures: 0,
      coolingUntil: 0,
    }));
    this.strategy = options.strategy ?? 'least-in-flight';
    this.cooldownMs = options.cooldownMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The endpoints in configuration order (with their keys: do not log these objects). */
  get endpoints(): readonly Readonly<EndpointConfig>[] {
    return this.slots.map((s) => s.config);
  }

  /** Every API key in the pool, for redaction. */
  get secrets(): string[] {
    return this.slots.map((s) => s.config.apiKey).filter((k): k is string => !!k);
  }

  /** How many endpoints are not cooling down, not counting `except` (a base URL). */
  readyCount(except?: string): number {
    const now = this.now();
    return this.slots.filter((s) => s.coolingUntil <= now && s.config.baseUrl !== except).length;
  }

  stats(): EndpointStats[] {
    const now = this.now();
    return this.slots.map((s) => ({
      baseUrl: displayUrl(s.config.baseUrl),
      inFlight: s.inFlight,
      requests: s.requests,
      failures: s.failures,
      ...(s.coolingUntil > now ? { coolingUntil: s.coolingUntil } : {}),
    }));
  }

  acquire(): EndpointLease {
    const slot = this.pick();
    slot.inFlight++;
    slot.requests++;
    let released = false;
    return {
      endpoint: slot.config,
      release: (outcome) => {
        if (released) return;
        released = true;
        slot.inFlight--;
        if (outcome === 'failed') {
          slot.failures++;
          slot.coolingUntil = this.now() + this.cooldownMs;
        } else if (outcome === 'ok') slot.coolingUntil = 0;
      },
    };
  }

  private pick(): Slot {
    const now = this.now();
    const n = this.slots.length;
    // candidates in round-robin order starting at `next`
    const order = Array.from({ length: n }, (_, k) => this.slots[(this.next + k) % n]);
    const warm = order.filter((s) => s.coolingUntil <= now);
    let chosen: Slot;
    if (warm.length === 0) chosen = order.reduce((a, b) => (b.coolingUntil < a.coolingUntil ? b : a));
    else if (this.strategy === 'round-robin') chosen = warm[0];
    else chosen = warm.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    this.next = (this.slots.indexOf(chosen) + 1) % n;
    return chosen;
  }
}
