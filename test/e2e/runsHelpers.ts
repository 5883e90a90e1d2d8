/** Helpers of the run view's e2e test (runs.test.ts): a training job that prints a run's log, a tree item's context menu. */
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { RayJobsFixture } from '../fixtures/rayJobsServer';
import { writeRunFixture } from './fixtures/runFixture';

/**
 * Submits a job to the Ray fixture that prints a fixture run's log (in `dir`) a step at a time, as
 * verl does, with a command that names the run's folders as Hydra overrides. It holds before its
 * 6th step until the file it returns exists (the test opens the gate once it saw the first steps).
 */
export async function submitPrintingJob(ray: RayJobsFixture, dir: string, experiment: string, id: string): Promise<string> {
  const log = writeRunFixture(dir, { experiment, lift: 0.02 });
  const feed = path.join(dir, 'feed.sh');
  const gate = path.join(dir, 'gate');
  writeFileSync(
    feed,
    [
      'n=0',
      'while IFS= read -r l; do',
      '  case "$l" in *step:*) n=$((n+1)); if [ $n -eq 6 ]; then while [ ! -e "$2" ]; do sleep 0.1; done; fi; sleep 0.1;; esac',
      `  printf '%s\\n' "$l"`,
      'done < "$1"',
      '',
    ].join('\n'),
  );
  const entrypoint = [
    `bash ${feed} ${log} ${gate}`,
    `trainer.experiment_name=${experiment}`,
    `trainer.rollout_data_dir=${dir}/rollout_sft_step`,
    `trainer.validation_data_dir=${dir}/validation_sft_step`,
    `trainer.default_local_dir=${dir}/checkpoints/codedance_rl/${experiment}`,
  ].join(' ');
  const r = await fetch(`${ray.url}/api/jobs/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entrypoint, submission_id: id, metadata: { job_name: experiment } }),
  });
  assert.equal(r.status, 200, await r.text());
  return gate;
}

/** Right-clicks a tree row (again if no menu opened) and clicks the menu item `label`. */
export async function contextMenuItem(page: Page, row: Locator, label: string): Promise<void> {
  const menu = page.locator('.context-view .monaco-menu');
  for (let attempt = 1; !(await menu.isVisible()); attempt++) {
    await row.click({ button: 'right' });
    await menu.waitFor({ timeout: 3000 }).catch((e: Error) => {
      if (attempt === 3) throw e;
    });
  }
  await page.waitForTimeout(150); // VS Code arms menu items 100 ms after rendering
  await menu.locator('.action-item .action-label', { hasText: new RegExp(`^${label}$`) }).click();
}
