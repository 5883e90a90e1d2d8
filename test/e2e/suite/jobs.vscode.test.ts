/** Runs inside VS Code's extension host: the Training Jobs contributions as VS Code read them. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { codedance } from './util';

interface JobsManifest {
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
  contributes: {
    menus: Record<string, Array<{ command: string; when?: string; group?: string }>>;
    configuration: {
      properties: Record<string, { scope?: string; items?: { properties?: Record<string, unknown>; required?: string[] } }>;
    };
  };
}

const JOB_COMMANDS = [
  'codedance.startTrainingJob',
  'codedance.jobs.submitReview',
  'codedance.jobs.refresh',
  'codedance.jobs.showLogs',
  'codedance.jobs.stop',
  'codedance.jobs.delete',
  'codedance.jobs.copyId',
  'codedance.jobs.setClusterSecret',
  'codedance.jobs.setJobSecret',
  'codedance.serveModel',
  'codedance.serve.stop',
];

describe('Training Jobs contributions', () => {
  before(async () => {
    await codedance().activate();
  });

  it('registers every jobs command', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      JOB_COMMANDS.filter((c) => !all.has(c)),
      [],
    );
  });

  it('puts Show Logs / Stop / Delete / Copy ID on job items, and keeps them out of the palette', () => {
    const m = (codedance().packageJSON as JobsManifest).contributes.menus;
    const item = m['view/item/context'].filter((e) => e.when?.includes('view == codedance.jobs'));
    for (const c of ['codedance.jobs.showLogs', 'codedance.jobs.stop', 'codedance.jobs.delete', 'codedance.jobs.copyId']) {
      assert.ok(
        item.some((e) => e.command === c && !e.group?.startsWith('inline')),
        `${c} not in the job context menu`,
      );
      assert.ok(
        m.commandPalette.some((e) => e.command === c && e.when === 'false'),
        `${c} shown in the palette`,
      );
    }
    assert.ok(item.find((e) => e.command === 'codedance.jobs.stop')!.when!.includes('codedance.job.active'), 'Stop only on live jobs');
    assert.ok(
      item.find((e) => e.command === 'codedance.jobs.delete')!.when!.includes('codedance.job.done'),
      'Delete only on finished jobs',
    );
    assert.ok(m['view/title'].some((e) => e.command === 'codedance.jobs.refresh' && e.when === 'view == codedance.jobs'));
    // a finished run's checkpoint is served with one action from its item; Stop Served Model only while one is served
    assert.ok(
      item.some((e) => e.command === 'codedance.serveModel' && e.when?.includes('codedance.job.done')),
      'Serve Model on Cluster on finished jobs',
    );
    assert.equal(m.commandPalette.find((e) => e.command === 'codedance.serve.stop')?.when, 'codedance.serve.active');
  });

  it('declares the cluster profiles setting as a restricted, machine-overridable list of {name, kind, …}', () => {
    const pj = codedance().packageJSON as JobsManifest;
    assert.ok(pj.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('codedance.jobs.clusters'));
    const clusters = pj.contributes.configuration.properties['codedance.jobs.clusters'];
    assert.equal(clusters.scope, 'machine-overridable');
    assert.deepEqual(clusters.items?.required, ['name', 'kind']);
    for (const k of ['address', 'host', 'user', 'port', 'identityFile', 'jobsDir', 'defaults'])
      assert.ok(clusters.items?.properties?.[k], `no schema for ${k}`);
    assert.equal(vscode.workspace.getConfiguration('codedance').get('jobs.pollSeconds'), 5);
  });
});
