#!/usr/bin/env node
// Serves code-server with this extension loaded under development and the sample workspace.
// Options: --port N (default $CODEDANCE_PORT or 8737; a busy port falls back to a free one),
//          --workspace DIR (default samples/workspace), --no-trust (disable Workspace Trust),
//          --no-fixture-model (do not serve the fixture VLM on 127.0.0.1:8738; on a first run the
//          extension's endpoint setting points at it, so it works without a GPU).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCodeServer, startCodeServer, workbenchUrl } from './codeServer.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const wanted = Number(opt('port', process.env.CODEDANCE_PORT ?? 8737));
const port = (await portFree(wanted)) ? wanted : 0;
if (port === 0) console.log(`port ${wanted} is busy: using a free port instead`);
const workspace = path.resolve(opt('workspace', path.join(root, 'samples/workspace')));
if (!existsSync(workspace)) {
  console.error(`workspace ${workspace} does not exist: pass an existing folder with --workspace`);
  process.exit(1);
}
const runDir = path.join(process.env.CODEDANCE_CACHE ?? path.join(os.homedir(), '.cache', 'codedance'), 'start-run');
mkdirSync(runDir, { recursive: true });

await ensureCodeServer({ log: console.log });

// The fixture VLM (test/fixtures): it writes real measuring code and answers from what that code
// printed in your kernel. A real endpoint: set codedance.model.endpoints in the settings.
let fixture;
const settings = {};
if (!argv.includes('--no-fixture-model')) {
  const fixturePort = Number(opt('fixture-port', 8738));
  if (await portFree(fixturePort)) {
    fixture = spawn(
      process.execPath,
      [
        '--require',
        path.join(root, 'scripts/registerTs.cjs'),
        path.join(root, 'test/fixtures/serveFixtureModel.ts'),
        '--port',
        String(fixturePort),
      ],
      {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    settings['codedance.model.endpoints'] = [`http://127.0.0.1:${fixturePort}/v1`];
  } else {
    console.log(`port ${fixturePort} is busy: not starting the fixture model (--fixture-port N picks another)`);
  }
}

const cs = await startCodeServer({
  port,
  workspace,
  extensionDevelopmentPath: root,
  trust: !argv.includes('--no-trust'),
  runDir,
  settings,
  log: () => {},
});
const url = workbenchUrl({ url: cs.url, workspace, extensionDevelopmentPath: root });
console.log(
  `\nCodeDance is running in VS Code (code-server) at:\n\n  ${url}\n\nOpen that URL in a browser (the CodeDance icon is in the activity bar). Ctrl+C stops the server.`,
);
if (fixture)
  console.log(
    'The fixture model answers the questions in the sample workspace README; point codedance.model.endpoints at a real server (vLLM, OpenAI) for anything else.',
  );
const stop = async () => {
  fixture?.kill('SIGTERM');
  await cs.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
