/**
 * The models this session serves on clusters and can reach now: what chat and eval add to their
 * endpoint pool (policy) or use as the judge. In memory only — nothing here is written to
 * settings. A replica is listed only while its job runs and its tunnel is open.
 */
import type { EndpointConfig } from '../model/types';
import type { ServeRole } from './serveTemplates';

export interface ServedModel {
  /** cluster name + job id */
  key: string;
  clusterName: string;
  jobId: string;
  role: ServeRole;
  servedModelName: string;
  /** base URLs (…/v1) this machine reaches the replicas at */
  baseUrls: string[];
  /** the same replicas as jobs on the cluster reach them (LLM_AS_A_JUDGE_BASE) */
  clusterUrls: string[];
}

export class ServedEndpoints {
  private readonly models = new Map<string, ServedModel>();
  private readonly listeners = new Set<() => void>();

  set(m: ServedModel): void {
    this.models.set(m.key, { ...m, baseUrls: [...m.baseUrls], clusterUrls: [...m.clusterUrls] });
    this.emit();
  }

  remove(key: string): boolean {
    const had = this.models.delete(key);
    if (had) this.emit();
    return had;
  }

  list(role?: ServeRole): ServedModel[] {
    return [...this.models.values()].filter((m) => !role || m.role === role);
  }

  /** The served policy models' replicas, as pool endpoints (one model name: the newest served model's). */
  policy(): { modelName: string; endpoints: EndpointConfig[]; summary: string } | undefined {
    const all = this.list('policy');
    const newest = all.at(-1);
    if (!newest) return undefined;
    const same = all.filter((m) => m.servedModelName === newest.servedModelName);
    const urls = same.flatMap((m) => m.baseUrls);
    const clusters = [...new Set(same.map((m) => m.clusterName))].join(', ');
    return {
      modelName: newest.servedModelName,
      endpoints: urls.map((baseUrl) => ({ baseUrl })),
      summary: `${clusters} · ${urls.length} replica${urls.length === 1 ? '' : 's'} · ${newest.servedModelName}`,
    };
  }

  /** The newest served judge, if any. */
  judge(): ServedModel | undefined {
    return this.list('judge').at(-1);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}

/**
 * The endpoints chat or eval should use: the configured ones, joined by the served replicas when
 * they serve the same model name; a served model of another name replaces them (one request has
 * one model name), and says so in `note`.
 */
export function withServedEndpoints(
  configured: readonly string[],
  configuredModel: string,
  served: ServedEndpoints,
): { endpoints: (string | EndpointConfig)[]; modelName?: string; note?: string } {
  const p = served.policy();
  if (!p) return { endpoints: [...configured] };
  if (configuredModel && configuredModel === p.modelName)
    return { endpoints: [...configured, ...p.endpoints], modelName: p.modelName, note: `joined by ${p.summary}` };
  return {
    endpoints: p.endpoints,
    modelName: p.modelName,
    note: `using ${p.summary}${configured.length ? ` instead of ${configured.join(', ')} (another model)` : ''}`,
  };
}
