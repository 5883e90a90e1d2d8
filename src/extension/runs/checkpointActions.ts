/**
 * What the run view's checkpoint list can do with a checkpoint: one handler per action the
 * protocol names (src/protocol/runs.ts CHECKPOINT_ACTIONS). Evaluate and serve hand the run and
 * the step to "CodeDance: Evaluate Checkpoint…" / "Serve Checkpoint…" (checkpointEval.ts: the
 * merge, the serve flow, the eval command, the index the chart reads), which ask only the rest.
 */
import * as vscode from 'vscode';
import { mergeCommand, mergedDirOf } from '../../core/runs/checkpoints';
import type { Checkpoint } from '../../core/runs/types';
import type { CheckpointAction } from '../../protocol/runs';
import type { RunSession } from './runSession';

export interface CheckpointTarget {
  session: RunSession;
  checkpoint: Checkpoint;
}

async function copy(text: string, what: string): Promise<void> {
  await vscode.env.clipboard.writeText(text);
  vscode.window.setStatusBarMessage(`CodeDance: copied ${what}`, 4000);
}

/**
 * Starts a checkpoint command without waiting for it (a merge, a serve and an eval take long; its
 * notification tells the progress and the outcome, and it shows its own errors).
 */
async function startCommand(command: string, t: CheckpointTarget): Promise<void> {
  void vscode.commands.executeCommand(command, t).then(undefined, (e: Error) => {
    void vscode.window.showErrorMessage(`CodeDance: ${command} failed: ${e.message}`);
  });
}

export const checkpointActions: Record<CheckpointAction, (t: CheckpointTarget) => Promise<void>> = {
  copyPath: ({ checkpoint }) => copy(checkpoint.path, `the path of checkpoint ${checkpoint.step}`),
  copyMergeCommand: ({ checkpoint }) =>
    copy(
      mergeCommand(`${checkpoint.path.replace(/\/+$/, '')}/actor`, checkpoint.mergedPath ?? mergedDirOf(checkpoint.path)),
      `the merge command of checkpoint ${checkpoint.step}`,
    ),
  evaluate: (t) => startCommand('codedance.runs.evaluateCheckpoint', t),
  serve: (t) => startCommand('codedance.runs.serveCheckpoint', t),
};
