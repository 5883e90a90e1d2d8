/** What each chat run uses, read from the settings and SecretStorage when the run starts. */
import type * as vscode from 'vscode';
import type { RunConfig } from '../../core/conversation/types';
import { createChatModel, resolveModelName } from '../../core/model';
import { getProtocol, isProtocolId, templateHash } from '../../core/protocol';
import type { ServedEndpoints } from '../../core/serve';
import { endpointsForRun } from '../serve/servedModels';
import { readSettings } from '../settings';

export const API_KEY_SECRET = 'codedance.apiKey';

export class RunConfigSource {
  /** the endpoint's first model id, per endpoint list (asked once: `GET /models`) */
  private readonly modelNames = new Map<string, string>();

  /** `served`: the models served from this window, which join (or replace) the configured endpoints */
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly served: ServedEndpoints,
  ) {}

  async read(signal: AbortSignal): Promise<RunConfig> {
    const s = readSettings();
    const apiKey = await this.secrets.get(API_KEY_SECRET);
    // a model served on a cluster from this window joins (or, for another model name, replaces) the endpoints
    const run = endpointsForRun(s.endpoints, s.model, this.served);
    const endpoints = run.endpoints.map((e) => (typeof e === 'string' ? e : e.baseUrl));
    const model = createChatModel({ endpoints, apiKey: apiKey || undefined });
    const protocol = getProtocol(isProtocolId(s.protocol) ? s.protocol : undefined);
    const key = endpoints.join(',');
    let modelName = run.modelName || s.model || this.modelNames.get(key);
    if (!modelName) {
      modelName = await resolveModelName(model, { signal });
      this.modelNames.set(key, modelName);
    }
    return {
      model,
      modelName,
      protocol,
      endpoints,
      protocolTemplateHash: templateHash(protocol),
      maxTurns: s.maxTurns,
      timeoutMs: s.timeoutSeconds * 1000,
      maxObservationTokens: s.maxObservationTokens,
      sampling: { temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens },
      approval: s.approval,
    };
  }
}
