/**
 * What chat and eval take from the models this window serves on clusters: the window's one
 * `ServedEndpoints` (in memory, never in settings) is created in `activate()` and passed to the
 * serve feature (which fills it) and to chat and eval (which read it when a run starts).
 */
import { withServedEndpoints, type ServedEndpoints } from '../../core/serve';
import type { EndpointConfig } from '../../core/model/types';

/**
 * The endpoints (and model name) a chat or eval run uses: the configured endpoints, joined by —
 * or, for another model name, replaced by — the replicas of a model served from this window.
 */
export function endpointsForRun(
  configured: readonly string[],
  configuredModel: string,
  served: ServedEndpoints,
): { endpoints: (string | EndpointConfig)[]; modelName?: string; note?: string } {
  return withServedEndpoints(configured, configuredModel, served);
}

/** The endpoint text and model name the chat shows: the configured ones, or the served replicas that replace or join them. */
export function servedEndpointLine(
  configured: readonly string[],
  configuredModel: string,
  served: ServedEndpoints,
): { endpoint: string; model: string } {
  const run = endpointsForRun(configured, configuredModel, served);
  return {
    endpoint: run.endpoints.map((e) => (typeof e === 'string' ? e : e.baseUrl)).join(', '),
    model: run.modelName || configuredModel,
  };
}
