// Installs code-server once into a cache folder outside node_modules, offline except the npm
// registry: prerequisites checked up front (each gap names its fix), ripgrep seeded from the
// machine's `rg`, native modules built with an allow-list of install scripts, then a smoke start.
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CODE_SERVER_VERSION,
  SetupError,
  cacheRoot,
  defaultLog,
  indent,
  installDir,
  lock,
  packageDir,
  run,
  seconds,
  writeJson,
} from './common.mjs';
import { startServer } from './server.mjs';

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
    '@parcel/watcher',
    '@vscode/deviceid',
    '@vscode/ripgrep',
    '@vscode/spdlog',
    '@vscode/windows-process-tree',
    '@vscode/windows-registry',
    'kerberos',
    'native-watchdog',
    'node-pty',
  ],
  'node_modules/code-server/lib/vscode/extensions': ['@parcel/watcher', 'esbuild'],
};

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
    return marker.version === CODE_SERVER_VERSION &&
      marker.nodeAbi === process.versions.modules &&
      existsSync(path.join(packageDir(dir), 'out', 'node', 'entry.js'))
      ? marker
      : null;
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
    description: 'code-server for CodeDance tests (written by scripts/codeServer/install.mjs)',
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
      `run the e2e tests with Node ${REQUIRED_NODE_MAJOR} (e.g. \`nvm use 20\`).`,
    );
  }
  if (process.platform !== 'linux' || !RIPGREP.targets[process.arch]) {
    throw new SetupError(
      `the offline code-server install supports linux x64/arm64, not ${process.platform}/${process.arch}.`,
      'run the e2e layer on Linux, or use `npm run test:electron` where downloads work.',
    );
  }
  const rg = which('rg');
  if (!rg) {
    throw new SetupError(
      'ripgrep (`rg`) is not installed; @vscode/ripgrep would try to download it from GitHub.',
      '`apt-get install ripgrep`.',
    );
  }
  if (!['/usr/include/gssapi/gssapi.h', '/usr/local/include/gssapi/gssapi.h'].some(existsSync)) {
    throw new SetupError(
      "Kerberos headers (gssapi/gssapi.h) are missing; VS Code's `kerberos` module cannot build.",
      '`apt-get install libkrb5-dev`.',
    );
  }
  for (const tool of ['make', 'g++', 'python3']) {
    if (!which(tool)) {
      throw new SetupError(
        `\`${tool}\` is missing; node-gyp needs it to build code-server's native modules.`,
        '`apt-get install build-essential python3`.',
      );
    }
  }
  // Without local Node headers node-gyp downloads them from nodejs.org, which fails offline.
  const nodedir =
    process.env.npm_config_nodedir ||
    [path.resolve(path.dirname(process.execPath), '..')].find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
  if (!nodedir) {
    throw new SetupError(
      `Node's C headers (include/node/node_api.h) are not next to ${process.execPath}; node-gyp would download them.`,
      'install Node with its headers (Debian/NodeSource `nodejs` package ships them) or set npm_config_nodedir.',
    );
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
    if (
      /^(> |added |rebuilt |npm (error|ERR)|gyp ERR! (?!.*(ENOTFOUND|request to))|Using cached download|Installing Code dependencies)/.test(
        line,
      )
    )
      log(line.trim());
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
    return 'a dependency gained an install script: review it and add it to ALLOW_SCRIPTS in scripts/codeServer/install.mjs.';
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
    throw new SetupError(
      `code-server installed but its postinstall did not produce: ${missing.join(', ')}.`,
      'install scripts did not run: check npm\'s "install-scripts" warnings above and ALLOW_SCRIPTS in scripts/codeServer/install.mjs.',
    );
  }
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'codedance-cs-verify-'));
  try {
    const server = await startServer({ codeServerDir: pkg, runDir, log: () => {} });
    await server.stop();
    log('verified: code-server starts and answers /healthz');
  } finally {
    await fs.rm(runDir, { recursive: true, force: true });
  }
}
