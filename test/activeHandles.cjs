// Loaded into every mocha run by scripts/test-all.mjs (`--require`): on SIGUSR2 it prints to
// stderr what keeps this process alive (why-is-node-running style). test-all sends the signal
// when mocha has not exited some seconds after reporting its results: a test left a socket, a
// server, a child process or a ref'd timer open. Nothing here keeps the process alive.
const net = require('node:net');
const { ChildProcess } = require('node:child_process');
const timers = require('node:timers');
const { promisify } = require('node:util');

// Timers are not among process._getActiveHandles(): remember where each one was made (a weak
// reference and an unformatted stack), to name the live ref'd ones.
const made = [];
for (const name of ['setTimeout', 'setInterval']) {
  const original = timers[name];
  const tracked = function (...args) {
    const t = original.apply(this, args);
    made.push({ ref: new WeakRef(t), at: new Error(name) });
    if (made.length > 50000) made.splice(0, made.length, ...made.filter((m) => live(m.ref.deref())));
    return t;
  };
  if (original[promisify.custom]) tracked[promisify.custom] = original[promisify.custom];
  timers[name] = tracked;
  globalThis[name] = tracked;
}
const live = (t) => t !== undefined && !t._destroyed;

function describe(h) {
  const name = h?.constructor?.name ?? typeof h;
  if (h instanceof ChildProcess) return `ChildProcess pid ${h.pid}: ${h.spawnargs.join(' ').slice(0, 200)}`;
  if (h instanceof net.Server) {
    const a = h.address();
    return `${name} listening on ${typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : '?'}`;
  }
  if (h instanceof net.Socket) {
    if (h.remotePort !== undefined) return `${name} ${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort}`;
    const fd = h._handle?.fd;
    return `${name} (pipe or unix socket${fd !== undefined && fd >= 0 ? `, fd ${fd}` : ''}${h._handle?.constructor?.name ? `, ${h._handle.constructor.name}` : ''})`;
  }
  return name;
}

function describeTimer({ ref, at }) {
  const t = ref.deref();
  const fn = t._onTimeout;
  const where = at.stack
    .split('\n')
    .slice(2, 6)
    .map((l) => `\n      ${l.trim()}`)
    .join('');
  return `${t._repeat ? 'setInterval' : 'setTimeout'} ${t._idleTimeout} ms, ${fn?.name || String(fn).replace(/\s+/g, ' ').slice(0, 80)}${where}`;
}

process.on('SIGUSR2', () => {
  const std = new Set([process.stdin, process.stdout, process.stderr]);
  const handles = process._getActiveHandles().filter((h) => !std.has(h));
  const lines = [
    `\nmocha (pid ${process.pid}) is still running after reporting its results; what keeps it alive:`,
    `  resources: ${process.getActiveResourcesInfo().join(', ') || 'none'}`,
    ...handles.map((h) => `  - ${describe(h)}`),
    ...made.filter((m) => live(m.ref.deref()) && m.ref.deref().hasRef()).map((m) => `  - ${describeTimer(m)}`),
    ...process._getActiveRequests().map((r) => `  - request ${r?.constructor?.name ?? typeof r}`),
  ];
  if (lines.length === 2) lines.push("  (no JavaScript handle: a native addon's, e.g. a zeromq socket left open, or a worker)");
  process.stderr.write(`${lines.join('\n')}\n`);
});
