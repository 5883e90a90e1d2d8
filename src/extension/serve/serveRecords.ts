/**
 * The window's memory of its serve jobs (workspace state: cluster, job id, what it serves — never
 * a URL or a secret), read at activation to know whether there are jobs to find again before the
 * serve feature's code (ServedJobs.ts, a chunk: lazyChunks in scripts/build.mjs) loads.
 */
import type * as vscode from 'vscode';
import { readServeRecords, type ServeRecord } from '../../core/serve';

/** workspace state key: the serve jobs of this workspace's window (ServeRecord[]) */
export const SERVE_RECORDS_KEY = 'codedance.serve.jobs';

export function serveRecords(state: vscode.Memento): ServeRecord[] {
  return readServeRecords(state.get(SERVE_RECORDS_KEY));
}
