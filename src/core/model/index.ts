/**
 * The model layer: chat completions against OpenAI-compatible servers. Re-exports only, plus
 * the two helpers the CLI and the extension start from.
 */
import { ModelClient, type ModelClientOptions } from './ModelClient';
import type { CallOptions } from './types';

export { ModelClient } from './ModelClient';
export type { ModelClientOptions } from './ModelClient';
export { parseEndpoints } from './EndpointPool';
export type { CallOptions } from './types';

/** A `ModelClient` (which is a `ChatModel` for `runAgent`). */
export function createChatModel(options: ModelClientOptions): ModelClient {
  return new ModelClient(options);
}

/** `name` when given, else the first id of GET /models (the seed's rule). */
export function resolveModelName(client: ModelClient, opts: CallOptions & { name?: string } = {}): Promise<string> {
  return client.resolveModel(opts.name, opts);
}
