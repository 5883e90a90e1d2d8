/**
 * What the run view's checkpoint list can do with a checkpoint: one handler per action the
 * protocol names (src/protocol/runs.ts CHECKPOINT_ACTIONS). An action that needs more than the
 * checkpoint and its run (evaluate it, serve it) is one more entry here and one more name there.
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

export const checkpointActions: Record<CheckpointAction, (t: CheckpointTarget) => Promise<void>> = {
  copyPath: ({ checkpoint }) => copy(checkpoint.path, `the path of checkpoint ${checkpoint.step}`),
  copyMergeCommand: ({ checkpoint }) =>
    copy(
      mergeCommand(`${checkpoint.path.replace(/\/+$/, '')}/actor`, checkpoint.mergedPath ?? mergedDirOf(checkpoint.path)),
      `the merge command of checkpoint ${checkpoint.step}`,
    ),
};
