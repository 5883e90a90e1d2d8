// Real VS Code for tests, offline and headless: code-server (VS Code's own workbench served to a
// browser; its extension host is the real Node extension host) plus Debian's chromium driven by
// playwright-core. Background and measurements: docs/real-vscode-offline.md (shared docs).
//
//   ensureCodeServer()   installs code-server once into a cache folder outside node_modules
//   startCodeServer()    starts it on 127.0.0.1 with a private HOME/TMPDIR/user-data-dir
//   workbenchUrl()       the URL that opens a folder with the extension under development loaded
//   launchBrowser()      a headless chromium context
//
// Plain Node ESM, no TypeScript, so .ci scripts and tests can both import it.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';
/** code-server 4.100.x only runs on (and its postinstall only accepts) Node 20. */
const REQUIRED_NODE_MAJOR = 20;
const MARKER = '.codedance-installed.json';

// code-server@4.100.3 pins @vscode/ripgrep@1.15.11 (lib/vscode/npm-shrinkwrap.json), whose
// postinstall downloads `ripgrep-${VERSION}-${target}.tar.gz` from GitHub unless that file is
// already in `${os.tmpdir()}/vscode-ripgrep-cache-${packageVersion}` (lib/download.js).
const RIPGREP = {
  packageVersion: '1.15.11',
  assetVersion: 'v13.0.0-10',
  targets: { x64: 'x86_64-unknown-linux-musl', arm64: 'aarch64-unknown-linux-musl' },
};

// npm >= 11.19 reviews dependency install scripts against an `allowScripts` policy (advisory
// today; a future npm blocks unreviewed ones). code-server needs all of these to run: its own
// postinstall runs `npm install` in lib/vscode and lib/vscode/extensions, which build native
// modules. We install with --strict-allow-scripts so a script missing from these lists fails
// loudly instead of being skipped by some future npm. Names only: versions are pinned by
// code-server's own npm-shrinkwrap.json files.
const ALLOW_SCRIPTS = {
  '.': ['code-server', 'argon2'],
  'node_modules/code-server/lib/vscode': [
    '@parcel/watcher', '@vscode/deviceid', '@vscode/ripgrep', '@vscode/spdlog',
    '@vscode/windows-process-tree', '@vscode/windows-registry', 'kerberos', 'native-watchdog',
    'node-pty',
  ],
  'node_modules/code-server/lib/vscode/extensions': ['@parcel/watcher', 'esbuild'],
};

const defaultLog = (msg) => console.log(`[code-server] ${msg}`);

export function cacheRoot() {
  return process.env.CODEDANCE_CACHE || path.join(os.homedir(), '.cache', 'codedance');
}

/** The install folder: a private npm project whose node_modules holds code-server. */
export function installDir() {
  return path.join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}`);
}

/** The code-server package folder (holds out/node/entry.js) inside installDir(). */
function packageDir(dir = installDir()) {
  return path.join(dir, 'node_modules', 'code-server');
}

class SetupError extends Error {
  constructor(cause, fix) {
    super(`${cause}\n  Fix: ${fix}`);
    this.name = 'CodeServerSetupError';
  }
}

// ---------------------------------------------------------------------------------------------
// Install
// ---------------------------------------------------------------------------------------------

/**
 * Installs code-server@4.100.3 once (≈35-40 s on 2 cores, offline except the npm registry) and returns its
 * package folder (the one holding out/node/entry.js). Later calls find the marker and return at once.
 */
export async function ensureCodeServer({ log = defaultLog } = {}) {
  const dir = installDir();
  if (readMarker(dir)) return packageDir(dir);

  await fs.mkdir(cacheRoot(), { recursive: true });
  const unlock = await lock(`${dir}.lock`, log);
  try {
    if (readMarker(dir)) return packageDir(dir); // another process finished it meanwhile
    await install(dir, log);
    return packageDir(dir);
  } finally {
    await unlock();
  }
}

function readMarker(dir) {
  try {
    const marker = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8'));
    // Native modules are built for one Node ABI: a different Node needs a fresh install.
    return marker.version === CODE_SERVER_VERSION && marker.nodeAbi === process.versions.modules
      && existsSync(path.join(packageDir(dir), 'out', 'node', 'entry.js'))
      ? marker : null;
  } catch {
    return null;
  }
}

async function install(dir, log) {
  const t0 = performance.now();
  const prereqs = checkPrerequisites();
  // Build in a staging folder and rename at the end: a half-done install never looks done.
  const stage = `${dir}.staging`;
  await fs.rm(stage, { recursive: true, force: true });
  await fs.rm(dir, { recursive: true, force: true });
  const tmp = path.join(stage, 'tmp');
  await fs.mkdir(tmp, { recursive: true });
  await seedRipgrepCache(tmp, prereqs.rg);
  await writeJson(path.join(stage, 'package.json'), {
    name: 'codedance-code-server-cache',
    private: true,
    description: 'code-server for CodeDance tests (written by scripts/codeServer.mjs)',
    dependencies: { 'code-server': CODE_SERVER_VERSION },
    allowScripts: Object.fromEntries(ALLOW_SCRIPTS['.'].map((name) => [name, true])),
  });

  const env = npmEnv(tmp, prereqs.nodedir);
  log(`installing code-server@${CODE_SERVER_VERSION} into ${dir} (~40 s)`);
  // Phase 1: fetch everything without running scripts, so that the nested projects' allowScripts
  // policy (.npmrc in lib/vscode and lib/vscode/extensions) is in place before they install.
  await runNpm(['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: stage, env, log });
  for (const [rel, names] of Object.entries(ALLOW_SCRIPTS)) {
    if (rel === '.') continue;
    await fs.appendFile(path.join(stage, rel, '.npmrc'), `allow-scripts=${names.join(',')}\n`);
  }
  log(`downloaded in ${seconds(t0)}; building native modules (postinstall)`);
  // Phase 2: code-server's postinstall installs lib/vscode (+ extensions) and builds node-pty,
  // kerberos, spdlog, ripgrep, parcel watcher, argon2.
  await runNpm(['rebuild', '--foreground-scripts'], { cwd: stage, env, log });

  await verifyInstall(stage, log);
  await fs.rm(tmp, { recursive: true, force: true });
  const installSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  await writeJson(path.join(stage, MARKER), {
    version: CODE_SERVER_VERSION,
    nodeAbi: process.versions.modules,
    node: process.version,
    installedAt: new Date().toISOString(),
    installSeconds,
  });
  await fs.rename(stage, dir);
  log(`installed code-server@${CODE_SERVER_VERSION} in ${installSeconds} s`);
}

/** Checks what the install needs from the machine, naming the fix for each gap. */
function checkPrerequisites() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== REQUIRED_NODE_MAJOR) {
    throw new SetupError(
      `code-server@${CODE_SERVER_VERSION} requires Node ${REQUIRED_NODE_MAJOR}; this is Node ${process.version}.`,
      `run the e2e tests with Node ${REQUIRED_NODE_MAJOR} (e.g. \`nvm use 20\`).`);
  }
  if (process.platform !== 'linux' || !RIPGREP.targets[process.arch]) {
    throw new SetupError(`the offline code-server install supports linux x64/arm64, not ${process.platform}/${process.arch}.`,
      'run the e2e layer on Linux, or use `npm run test:electron` where downloads work.');
  }
  const rg = which('rg');
  if (!rg) {
    throw new SetupError('ripgrep (`rg`) is not installed; @vscode/ripgrep would try to download it from GitHub.',
      '`apt-get install ripgrep`.');
  }
  if (!['/usr/include/gssapi/gssapi.h', '/usr/local/include/gssapi/gssapi.h'].some(existsSync)) {
    throw new SetupError('Kerberos headers (gssapi/gssapi.h) are missing; VS Code\'s `kerberos` module cannot build.',
      '`apt-get install libkrb5-dev`.');
  }
  for (const tool of ['make', 'g++', 'python3']) {
    if (!which(tool)) {
      throw new SetupError(`\`${tool}\` is missing; node-gyp needs it to build code-server's native modules.`,
        '`apt-get install build-essential python3`.');
    }
  }
  // Without local Node headers node-gyp downloads them from nodejs.org, which fails offline.
  const nodedir = process.env.npm_config_nodedir
    || [path.resolve(path.dirname(process.execPath), '..')].find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
  if (!nodedir) {
    throw new SetupError(`Node's C headers (include/node/node_api.h) are not next to ${process.execPath}; node-gyp would download them.`,
      'install Node with its headers (Debian/NodeSource `nodejs` package ships them) or set npm_config_nodedir.');
  }
  return { rg, nodedir };
}

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, cmd);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** Puts a tarball of the machine's `rg` where @vscode/ripgrep's postinstall looks before downloading. */
async function seedRipgrepCache(tmp, rgPath) {
  const cache = path.join(tmp, `vscode-ripgrep-cache-${RIPGREP.packageVersion}`);
  const asset = `ripgrep-${RIPGREP.assetVersion}-${RIPGREP.targets[process.arch]}.tar.gz`;
  const staging = path.join(tmp, 'rg-staging');
  await fs.mkdir(cache, { recursive: true });
  await fs.mkdir(staging, { recursive: true });
  await fs.copyFile(rgPath, path.join(staging, 'rg'));
  await fs.chmod(path.join(staging, 'rg'), 0o755);
  await run('tar', ['czf', path.join(cache, asset), '-C', staging, 'rg'], { cwd: tmp });
}

function npmEnv(tmp, nodedir) {
  return {
    ...process.env,
    TMPDIR: tmp, // @vscode/ripgrep's cache lookup and node-gyp scratch space
    npm_config_unsafe_perm: 'true', // code-server's postinstall refuses to run as root without it
    npm_config_yes: 'true', // node-pty's postinstall runs `npx node-gyp`
    npm_config_strict_allow_scripts: 'true', // see ALLOW_SCRIPTS
    npm_config_nodedir: nodedir,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

async function runNpm(args, { cwd, env, log }) {
  const tail = [];
  const onLine = (line) => {
    tail.push(line);
    if (tail.length > 60) tail.shift();
    if (/^(> |added |rebuilt |npm (error|ERR)|gyp ERR! (?!.*(ENOTFOUND|request to))|Using cached download|Installing Code dependencies)/.test(line)) log(line.trim());
  };
  const code = await run('npm', args, { cwd, env, onLine });
  if (code !== 0) {
    const text = tail.join('\n');
    throw new SetupError(`\`npm ${args.join(' ')}\` failed (exit ${code}) in ${cwd}:\n${indent(text)}`, diagnose(text));
  }
}

/** Maps known failure signatures to their fix. */
function diagnose(text) {
  if (/ESTRICTALLOWSCRIPTS/.test(text)) {
    return 'a dependency gained an install script: review it and add it to ALLOW_SCRIPTS in scripts/codeServer.mjs.';
  }
  if (/gssapi/.test(text)) return '`apt-get install libkrb5-dev`.';
  if (/vscode-ripgrep|api\.github\.com/.test(text)) return '`apt-get install ripgrep` (its binary is packed into the ripgrep cache).';
  if (/unsafe-perm/.test(text)) return 'run with npm_config_unsafe_perm=true (set by this script; check nothing overrides it).';
  if (/E(NOTFOUND|AI_AGAIN|CONNREFUSED|TIMEDOUT)|ECONNRESET/.test(text)) {
    return 'the npm registry is unreachable: check network/proxy settings (`npm ping`).';
  }
  if (/node-gyp|gyp ERR/.test(text)) return 'a native module failed to build: install build-essential, python3 and Node headers.';
  return 'see the npm output above; then delete the cache folder and retry.';
}

/** Proves the install works: native bits exist and a server answers /healthz. */
async function verifyInstall(stage, log) {
  const pkg = packageDir(stage);
  const mustExist = [
    'out/node/entry.js',
    'lib/vscode/node_modules/@vscode/ripgrep/bin/rg',
    'lib/vscode/node_modules/node-pty/build/Release/pty.node',
    'lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node',
  ];
  const missing = mustExist.filter((rel) => !existsSync(path.join(pkg, rel)));
  if (missing.length) {
    throw new SetupError(`code-server installed but its postinstall did not produce: ${missing.join(', ')}.`,
      'install scripts did not run: check npm\'s "install-scripts" warnings above and ALLOW_SCRIPTS in scripts/codeServer.mjs.');
  }
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-cs-verify-'));
  try {
    const server = await startCodeServer({ codeServerDir: pkg, runDir, log: () => {} });
    await server.stop();
    log('verified: code-server starts and answers /healthz');
  } finally {
    await fs.rm(runDir, { recursive: true, force: true });
  }
}

/** A cross-process lock (mkdir is atomic); a lock left by a dead process is taken over. */
async function lock(lockDir, log) {
  const deadline = Date.now() + 15 * 60_000;
  for (let warned = false; ; ) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'pid'), String(process.pid));
      return () => fs.rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const owner = Number(await fs.readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '0'));
    if (owner && !isAlive(owner)) {
      await fs.rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new SetupError(`timed out waiting for ${lockDir} (held by pid ${owner}).`, `delete ${lockDir} if no install is running.`);
    }
    if (!warned) log(`waiting for another install (pid ${owner}) to finish`);
    warned = true;
    await sleep(1000);
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

/**
 * Starts code-server on 127.0.0.1 and waits for /healthz. Everything it writes (HOME, TMPDIR,
 * user data, extensions, logs) stays in runDir; without runDir a temp folder is used and removed
 * by stop(). Returns { url, port, runDir, logFile, pid, stop, workbenchUrl }, where
 * workbenchUrl({extensionTestsPath}) opens `workspace` with `extensionDevelopmentPath` loaded.
 */
export async function startCodeServer({
  port = 0,
  workspace,
  extensionDevelopmentPath,
  trust = false,
  runDir,
  codeServerDir,
  settings = {},
  log = defaultLog,
} = {}) {
  const csDir = codeServerDir || await ensureCodeServer({ log });
  const ownRunDir = !runDir;
  runDir = path.resolve(runDir || await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-cs-')));
  const dirs = await prepareRunDir(runDir, trust, settings);
  port = port || await freePort();

  const args = [
    path.join(csDir, 'out', 'node', 'entry.js'),
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', dirs.userData,
    '--extensions-dir', dirs.extensions,
    '--config', dirs.config,
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
    throw new SetupError(`code-server did not start on ${url}: ${err.message}${tail ? `\n${indent(tail)}` : ''}`,
      `see ${ownRunDir ? 'the server log' : logFile}; if the install is broken delete ${installDir()} and rerun.`);
  }
  log(`ready on ${url} in ${seconds(t0)} (run dir ${runDir})`);
  return {
    url, port, runDir, logFile, pid: child.pid, stop,
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

export const CHROMIUM_PATH = process.env.CODEDANCE_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * A headless chromium (Debian's) as a playwright persistent context. Close it with
 * context.close(); the first page is context.pages()[0]. Without userDataDir a temp profile is
 * used and removed on close.
 */
export async function launchBrowser({ userDataDir, viewport = { width: 1400, height: 900 } } = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new SetupError(`chromium not found at ${CHROMIUM_PATH}.`, '`apt-get install chromium` or set CODEDANCE_CHROMIUM.');
  }
  const { chromium } = await import('playwright-core');
  const ownDir = !userDataDir;
  userDataDir = userDataDir || await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-chromium-'));
  await fs.mkdir(userDataDir, { recursive: true });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  if (ownDir) context.once('close', () => fs.rm(userDataDir, { recursive: true, force: true }).catch(() => {}));
  return context;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function run(cmd, args, { cwd, env = process.env, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const feed = (chunk) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) onLine?.(line);
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.once('error', (err) => reject(new SetupError(`cannot run \`${cmd}\`: ${err.message}.`, `install ${cmd} / check PATH.`)));
    child.once('close', (code) => {
      if (buf) onLine?.(buf);
      resolve(code);
    });
  });
}

async function writeJson(file, value) {
  await fs.writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function readTail(file, lines = 30) {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n').trim();
}

const indent = (text) => text.split('\n').map((l) => `    ${l}`).join('\n');
const seconds = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `node scripts/codeServer.mjs [install|serve]`: install, or install and serve (manual poking).
if (import.meta.url === `file://${process.argv[1]}`) {
  const cmd = process.argv[2] || 'install';
  try {
    const t0 = performance.now();
    const dir = await ensureCodeServer();
    console.log(`code-server ready at ${dir} (${seconds(t0)})`);
    if (cmd === 'serve') {
      const server = await startCodeServer({ codeServerDir: dir, port: Number(process.env.PORT) || 0 });
      console.log(`serving ${server.url}; Ctrl+C to stop`);
      process.once('SIGINT', () => server.stop().then(() => process.exit(0)));
    }
  } catch (err) {
    console.error(`\n${err.message}`);
    process.exit(1);
  }
}
