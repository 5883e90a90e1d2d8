// Starts an installed code-server on 127.0.0.1 with a private HOME/TMPDIR/user-data-dir, and
// builds the workbench URL that opens a folder with the extension under development loaded.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SetupError, defaultLog, indent, installDir, readTail, seconds, sleep, writeJson } from './common.mjs';

/**
 * Starts the code-server installed in `codeServerDir` (the package folder holding out/node/entry.js)
 * on 127.0.0.1 and waits for /healthz. Everything it writes (HOME, TMPDIR, user data, extensions,
 * logs) stays in runDir; without runDir a temp folder is used and removed by stop(). Returns
 * { url, port, runDir, logFile, pid, stop, workbenchUrl }, where workbenchUrl({extensionTestsPath})
 * opens `workspace` with `extensionDevelopmentPath` loaded.
 */
export async function startServer({
  codeServerDir,
  port = 0,
  workspace,
  extensionDevelopmentPath,
  trust = false,
  runDir,
  settings = {},
  log = defaultLog,
}) {
  const csDir = codeServerDir;
  const ownRunDir = !runDir;
  runDir = path.resolve(runDir || (await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-cs-'))));
  const dirs = await prepareRunDir(runDir, trust, settings);
  port = port || (await freePort());

  const args = [
    path.join(csDir, 'out', 'node', 'entry.js'),
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    '--config',
    dirs.config,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--disable-proxy',
    ...(trust ? [] : ['--disable-workspace-trust']),
  ];
  const logFile = path.join(runDir, 'code-server.log');
  const logStream = createWriteStream(logFile);
  const child = spawn(process.execPath, args, {
    cwd: runDir,
    env: serverEnv(runDir, dirs),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: stop() ends the server with its extension host and pty host
  });
  child.stdout.pipe(logStream);
  child.stderr.pipe(logStream);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // The server has its own process group, so a Ctrl+C of the test run does not reach it: end it
  // when this process exits or is interrupted, then let the signal take its usual course.
  const killOnExit = () => killGroup(child.pid, 'SIGKILL');
  const killOnSignal = (signal) => {
    killOnExit();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', killOnSignal);
  process.once('SIGTERM', killOnSignal);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    process.removeListener('SIGINT', killOnSignal);
    process.removeListener('SIGTERM', killOnSignal);
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    killGroup(child.pid, 'SIGKILL'); // stragglers in the group (extension host, watchers)
    logStream.end();
    if (ownRunDir) await fs.rm(runDir, { recursive: true, force: true }).catch(() => {});
  };

  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  try {
    await Promise.race([
      waitForHealthz(url, 30_000),
      exited.then(({ code, signal }) => {
        throw new Error(`code-server exited before it was ready (code ${code}, signal ${signal})`);
      }),
    ]);
  } catch (err) {
    await stop();
    const tail = ownRunDir ? '' : await readTail(logFile);
    throw new SetupError(
      `code-server did not start on ${url}: ${err.message}${tail ? `\n${indent(tail)}` : ''}`,
      `see ${ownRunDir ? 'the server log' : logFile}; if the install is broken delete ${installDir()} and rerun.`,
    );
  }
  log(`ready on ${url} in ${seconds(t0)} (run dir ${runDir})`);
  return {
    url,
    port,
    runDir,
    logFile,
    pid: child.pid,
    stop,
    workbenchUrl: (extra = {}) => workbenchUrl({ url, workspace, extensionDevelopmentPath, ...extra }),
  };
}

/**
 * User settings: our quiet defaults, then `settings` (first-run values such as an endpoint), then
 * whatever the user already changed in a kept runDir (so `npm start` never loses their edits);
 * Workspace Trust always as asked.
 */
async function prepareRunDir(runDir, trust, settings = {}) {
  const dirs = {
    home: path.join(runDir, 'home'),
    tmp: path.join(runDir, 'tmp'),
    userData: path.join(runDir, 'udd'),
    extensions: path.join(runDir, 'exts'),
    config: path.join(runDir, 'config.yaml'),
  };
  for (const d of [dirs.home, dirs.tmp, path.join(dirs.userData, 'User'), dirs.extensions]) {
    await fs.mkdir(d, { recursive: true });
  }
  await fs.writeFile(dirs.config, 'auth: none\ncert: false\n');
  const settingsFile = path.join(dirs.userData, 'User', 'settings.json');
  let existing = {};
  try {
    existing = JSON.parse(await fs.readFile(settingsFile, 'utf8'));
  } catch {
    // first run, or a file VS Code would not read either
  }
  await writeJson(settingsFile, {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'security.workspace.trust.enabled': trust,
    'chat.commandCenter.enabled': false,
    'git.enabled': false,
    ...settings,
    ...existing,
    'security.workspace.trust.enabled': trust,
  });
  return dirs;
}

function serverEnv(runDir, dirs) {
  const env = { ...process.env };
  // Do not inherit a surrounding VS Code's IPC hooks or an Electron-as-node switch.
  for (const key of Object.keys(env)) {
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE') delete env[key];
  }
  return {
    ...env,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    XDG_CONFIG_HOME: path.join(dirs.home, '.config'),
    XDG_DATA_HOME: path.join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(dirs.home, '.cache'),
    EXTENSIONS_GALLERY: '{}', // no marketplace look-ups on every page load
  };
}

async function waitForHealthz(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      lastError = new Error(`/healthz answered ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`no answer from /healthz within ${timeoutMs / 1000} s (${lastError?.message})`);
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Workbench URL and browser
// ---------------------------------------------------------------------------------------------

/**
 * The workbench URL opening `workspace`, with the extension under development loaded (title shows
 * "[Extension Development Host]") and, given extensionTestsPath, that mocha suite run in the host.
 */
export function workbenchUrl({ url, workspace, extensionDevelopmentPath, extensionTestsPath }) {
  const base = new URL(url);
  const remote = (p) => `vscode-remote://${base.host}${path.resolve(p)}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  const query = new URLSearchParams();
  if (workspace) query.set('folder', path.resolve(workspace));
  if (payload.length) query.set('payload', JSON.stringify(payload));
  return `${base.origin}/?${query}`;
}
