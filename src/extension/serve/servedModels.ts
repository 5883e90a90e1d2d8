/**
 * The one registry of models this window serves on clusters (in memory; never in settings).
 * Chat and eval read it when a run starts (`endpointsForRun`); the serve feature fills it.
 */
import { ServedEndpoints, withServedEndpoints } from '../../core/serve';
import type { EndpointConfig } from '../../core/model/types';

export const servedModels = new ServedEndpoints();

/**
 * The endpoints (and model name) a chat or eval run uses: the configured endpoints, joined by —
 * or, for another model name, replaced by — the replicas of a model served from this window.
 */
export function endpointsForRun(configured: readonly string[], configuredModel: string): { endpoints: (string | EndpointConfig)[]; modelName?: string; note?: string } {
  return withServedEndpoints(configured, configuredModel, servedModels);
}

/** The endpoint text and model name the chat shows: the configured ones, or the served replicas that replace or join them. */
export function servedEndpointLine(configured: readonly string[], configuredModel: string): { endpoint: string; model: string } {
  const run = endpointsForRun(configured, configuredModel);
  return { endpoint: run.endpoints.map((e) => (typeof e === 'string' ? e : e.baseUrl)).join(', '), model: run.modelName || configuredModel };
}
