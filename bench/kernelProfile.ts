/**
 * `npm run bench -- --profile` for the kernel: where a cell's time goes, part by part, side by
 * side with ipykernel's own floor (a bare kernel, no prelude, driven by the same minimal client:
 * one execute_request, reply + idle), rounds alternating.
 *
 * Each cell is stamped on both sides: Node's wall clock (performance.timeOrigin + now()) when
 * the cell is asked for, when its request is handed to the client, when each message arrives;
 * the kernel's header dates (busy, execute_reply, idle; µs) and, for our kernel, the prelude's
 * own split (config.profile: setup, exec, encode, send, teardown). Both clocks are the same
 * CLOCK_REALTIME, so one-way hops are comparable (a few µs of skew at most). Node-only costs
 * (serialize + sign, parse + verify) are timed in-process on the same messages.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JupyterKernelSession } from '../src/core/kernel';
import { startKernelSession } from '../src/core/kernel';
import { KernelClient } from '../src/core/kernel/client';
import { inputsDir } from '../src/core/kernel/hostFolders';
import { launchKernel } from '../src/core/kernel/launch';
import { executeRequest, type Incarnation } from '../src/core/kernel/request';
import { sandboxStatus } from '../src/core/kernel/sandbox';
import { type JupyterMessage, makeHeader, parse, serialize, Signer } from '../src/core/kernel/wire';
import type { BenchResult } from './kernel.bench';

const ROUNDS = 4;
const PER_ROUND = 100;

const now = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** a Jupyter header date ("…T12:00:00.123456Z" or "+00:00") as epoch ms with µs */
export function dateMs(s: string | undefined): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/.exec(s ?? '');
  if (!m) return NaN;
  return Date.parse(m[1] + (m[3] ?? 'Z')) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** What one cell's messages and clocks said. */
interface Stamps {
  t0: number;
  tCall?: number;
  busy?: number;
  busyRecv?: number;
  reply?: number;
  replyRecv?: number;
  idle?: number;
  idleRecv?: number;
  tEnd?: number;
  iopub: number;
  prelude?: Record<string, number>;
  replyMsg?: JupyterMessage;
}

/** Wraps a client so that every request and its messages are stamped into `current()`. */
function instrument(client: KernelClient, current: () => Stamps | undefined): void {
  const c = client as unknown as { request: KernelClient['request']; onReply: (m: JupyterMessage) => void };
  const request = c.request.bind(client);
  let id = '';
  c.request = (channel, msgType, content, beforeSend) => {
    const s = current();
    if (s && msgType === 'execute_request') s.tCall = now();
    const r = request(channel, msgType, content, beforeSend);
    if (s && msgType === 'execute_request') id = r.msgId;
    return r;
  };
  const onReply = c.onReply.bind(client);
  c.onReply = (m) => {
    const s = current();
    if (s && m.parent_header.msg_id === id) {
      s.replyRecv = now();
      s.reply = dateMs(m.header.date);
      s.prelude = (m.content as { codedance?: { profile?: Record<string, number> } }).codedance?.profile;
      s.replyMsg = m;
    }
    onReply(m);
  };
  client.listenAll((m) => {
    const s = current();
    if (!s || m.parent_header.msg_id !== id) return;
    const t = now();
    s.iopub++;
    const state = m.header.msg_type === 'status' ? (m.content as { execution_state?: string }).execution_state : undefined;
    if (state === 'busy') [s.busy, s.busyRecv] = [dateMs(m.header.date), t];
    if (state === 'idle') [s.idle, s.idleRecv] = [dateMs(m.header.date), t];
  });
}

/** A bare ipykernel (no prelude) and the minimal client: launch, kernel_info until iopub delivers. */
async function startBare(python: string, sandbox: 'on' | 'off'): Promise<{ inc: Incarnation; dispose: () => Promise<void> }> {
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'codedance-bench-'));
  const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-bench-rt-'));
  mkdirSync(inputsDir(runtimeDir)); // bound read-only by every launch (hostFolders.ts), so it must exist
  const launched = await launchKernel({ python, workdir, runtimeDir, n: 1, sandbox: { sandbox, forkedStarts: false } });
  const client = new KernelClient(launched.conn, { heartbeatIntervalMs: 0 });
  client.connect();
  const inc: Incarnation = { n: 1, proc: launched.proc, client };
  const deadline = Date.now() + 60000;
  for (;;) {
    if (!launched.proc.alive || Date.now() > deadline) throw new Error(`bare kernel did not start: ${launched.proc.outputTail}`);
    const r = await executeRequest(inc, 'pass', { onMessage: () => undefined, timeoutMs: 300 });
    if (r.kind === 'done' && r.reply) break;
  }
  // the first request may have lost iopub's idle to the subscription still joining: once more
  await executeRequest(inc, 'pass', { onMessage: () => undefined, timeoutMs: 5000 });
  return {
    inc,
    dispose: async () => {
      client.close();
      await launched.proc.kill();
      for (const d of [workdir, runtimeDir]) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** the parts of a set of stamped cells, median ms each */
function phases(xs: Stamps[]): Record<string, number> {
  const m = (f: (s: Stamps) => number | undefined) => median(xs.map((s) => f(s) ?? NaN));
  return {
    'total (ask -> result)': m((s) => s.tEnd! - s.t0),
    'node: before the request (payload, queue, collector)': m((s) => s.tCall! - s.t0),
    'send -> kernel busy (serialize+sign+send, zmq, dispatch)': m((s) => s.busy! - s.tCall!),
    'kernel: busy -> execute_reply sent': m((s) => s.reply! - s.busy!),
    '  prelude setup (decode, patches, cwd, streams)': m((s) => s.prelude?.setup),
    '  prelude exec (the code itself)': m((s) => s.prelude?.exec),
    '  prelude encode (images)': m((s) => s.prelude?.encode),
    '  prelude send (image display_data)': m((s) => s.prelude?.send),
    '  prelude teardown (restore, record)': m((s) => s.prelude?.teardown),
    'reply hop (kernel send -> Node parsed)': m((s) => s.replyRecv! - s.reply!),
    'kernel: execute_reply -> idle sent': m((s) => s.idle! - s.reply!),
    'idle hop (kernel send -> Node parsed)': m((s) => s.idleRecv! - s.idle!),
    'idle wait (Node: reply parsed -> idle parsed)': m((s) => s.idleRecv! - s.replyRecv!),
    'node: reply+idle -> result (classify, hops)': m((s) => s.tEnd! - Math.max(s.replyRecv!, s.idleRecv!)),
    'iopub messages per cell': m((s) => s.iopub),
  };
}

/** in-process cost of one call, µs (median of batches) */
function perOpUs(f: () => void, n = 2000): number {
  for (let i = 0; i < 200; i++) f();
  const per: number[] = [];
  for (let b = 0; b < 5; b++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    per.push(((performance.now() - t) / n) * 1000);
  }
  return median(per);
}

function nodeCosts(key: string, sample: Stamps | undefined): BenchResult[] {
  const signer = new Signer(key);
  const payload = Buffer.from(JSON.stringify({ code: 'x = 1', maxOutputBytes: 1 << 20 })).toString('base64');
  const content = {
    code: `_codedance_run("${payload}")`,
    silent: false,
    store_history: false,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: false,
  };
  const header = makeHeader('execute_request', 'bench');
  const sendUs = perOpUs(() => serialize({ header, content }, signer));
  const rows: BenchResult[] = [{ name: 'kernel.profile.node.serialize_sign_request', value: round(sendUs, 1), unit: 'µs' }];
  if (sample?.replyMsg) {
    const m = sample.replyMsg;
    const frames = serialize(
      { header: m.header, parent_header: m.parent_header, metadata: m.metadata, content: m.content, identities: m.identities },
      signer,
    );
    rows.push({
      name: 'kernel.profile.node.parse_verify_reply',
      value: round(
        perOpUs(() => parse(frames, signer)),
        1,
      ),
      unit: 'µs',
    });
  }
  return rows;
}

async function profileMode(python: string, sandbox: 'on' | 'off'): Promise<BenchResult[]> {
  const ours = await startKernelSession({ python, sandbox });
  const bare = await startBare(python, sandbox);
  let cur: Stamps | undefined;
  try {
    await ours.execute('import sys\nsys.modules["_codedance"].config["profile"] = True');
    instrument((ours as unknown as { inc: Incarnation }).inc.client, () => cur);
    instrument(bare.inc.client, () => cur);
    const got: Record<'ours' | 'bare', Stamps[]> = { ours: [], bare: [] };
    const cell = async (who: 'ours' | 'bare', keep: boolean) => {
      const s: Stamps = { t0: now(), iopub: 0 };
      cur = s;
      if (who === 'ours') {
        const r = await (ours as JupyterKernelSession).execute('x = 1');
        if (r.status !== 'ok') throw new Error(`profile cell failed: ${JSON.stringify(r.error)}`);
      } else {
        const r = await executeRequest(bare.inc, 'x = 1', { onMessage: () => undefined });
        if (r.kind !== 'done' || (r.reply?.content as { status?: string })?.status !== 'ok')
          throw new Error(`bare cell failed: ${JSON.stringify(r)}`);
      }
      s.tEnd = now();
      cur = undefined;
      if (keep) got[who].push(s);
    };
    for (let i = 0; i < 30; i++) for (const who of ['ours', 'bare'] as const) await cell(who, false);
    for (let r = 0; r < ROUNDS; r++) for (const who of ['ours', 'bare'] as const) for (let i = 0; i < PER_ROUND; i++) await cell(who, true);
    const po = phases(got.ours);
    const pb = phases(got.bare);
    const tag = `kernel.profile.${sandbox === 'on' ? 'sandboxed' : 'unsandboxed'}`;
    const out: BenchResult[] = Object.keys(po).map((k) => ({
      name: `${tag}.${k}`,
      value: round(po[k]),
      unit: k.startsWith('iopub') ? 'msgs' : 'ms',
      ...(Number.isFinite(pb[k]) ? { baseline: round(pb[k]) } : {}),
    }));
    const added = po['total (ask -> result)'] - pb['total (ask -> result)'];
    out.unshift({
      name: `kernel.floor.${sandbox === 'on' ? 'sandboxed' : 'unsandboxed'}.trivial_cell.median`,
      value: round(po['total (ask -> result)']),
      unit: 'ms',
      baseline: round(pb['total (ask -> result)']),
      ratio: round(po['total (ask -> result)'] / pb['total (ask -> result)'], 3),
      goal: '≤ 0.3 ms added over a bare ipykernel execute_request (baseline)',
      pass: added <= 0.3,
    });
    if (sandbox === 'on' || !sandboxStatus().available) out.push(...nodeCosts(bare.inc.client.conn.key, got.ours[got.ours.length - 1]));
    return out;
  } finally {
    await Promise.all([ours.dispose(), bare.dispose()]);
  }
}

/**
 * Cold start, ours (launch, kernel_info, prelude, first cell) vs a bare ipykernel (launch until
 * an execute_request is answered, then the first cell), alternating rounds.
 */
async function coldStart(python: string, sandbox: 'on' | 'off'): Promise<BenchResult[]> {
  const t: Record<string, number[]> = { oursReady: [], oursFirst: [], bareReady: [], bareFirst: [], forkedFirst: [] };
  for (let r = 0; r < 3; r++) {
    let t0 = performance.now();
    const k = await startKernelSession({ python, sandbox, forkedStarts: false });
    t.oursReady.push(performance.now() - t0);
    await k.execute('x = 1');
    t.oursFirst.push(performance.now() - t0);
    await k.dispose();
    t0 = performance.now();
    const b = await startBare(python, sandbox);
    t.bareReady.push(performance.now() - t0);
    await executeRequest(b.inc, 'x = 1', { onMessage: () => undefined });
    t.bareFirst.push(performance.now() - t0);
    await b.dispose();
    if (sandbox === 'on') {
      // the template is up after the first round's start (or an earlier bench's): a fork's start
      const t1 = performance.now();
      const f = await startKernelSession({ python, sandbox });
      await f.execute('x = 1');
      if (r > 0) t.forkedFirst.push(performance.now() - t1);
      await f.dispose();
    }
  }
  const tag = `kernel.profile.${sandbox === 'on' ? 'sandboxed' : 'unsandboxed'}.cold_start`;
  const rows: BenchResult[] = [
    {
      name: `${tag}.ready (a new interpreter)`,
      value: round(median(t.oursReady), 1),
      unit: 'ms',
      baseline: round(median(t.bareReady), 1),
      ratio: round(median(t.oursReady) / median(t.bareReady), 3),
    },
    {
      name: `${tag}.first_cell (a new interpreter: the first kernel of a process without forks)`,
      value: round(median(t.oursFirst), 1),
      unit: 'ms',
      baseline: round(median(t.bareFirst), 1),
      ratio: round(median(t.oursFirst) / median(t.bareFirst), 3),
      goal: '≤ 800 ms (baseline: a bare ipykernel)',
      pass: median(t.oursFirst) <= 800,
    },
  ];
  if (t.forkedFirst.length)
    rows.push({
      name: `${tag}.first_cell forked from the template (the default once the template is up) vs a new interpreter`,
      value: round(median(t.forkedFirst), 1),
      unit: 'ms',
      baseline: round(median(t.oursFirst), 1),
      ratio: round(median(t.forkedFirst) / median(t.oursFirst), 3),
    });
  return rows;
}

/** The cell's parts and the cold start, ours vs a bare ipykernel, in each sandbox mode this machine has. */
export async function profileKernel(python: string): Promise<BenchResult[]> {
  const modes: Array<'on' | 'off'> = sandboxStatus().available ? ['on', 'off'] : ['off'];
  const out: BenchResult[] = [];
  for (const m of modes) out.push(...(await profileMode(python, m)), ...(await coldStart(python, m)));
  return out;
}

/** Stamps for a cell that makes an image (crop + PNG): the same parts, ours only. */
export async function profileImageCell(kernel: JupyterKernelSession, code: string, n: number): Promise<BenchResult[]> {
  let cur: Stamps | undefined;
  await kernel.execute('import sys\nsys.modules["_codedance"].config["profile"] = True');
  const client = (kernel as unknown as { inc: Incarnation }).inc.client;
  instrument(client, () => cur);
  const got: Stamps[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const s: Stamps = { t0: now(), iopub: 0 };
    cur = s;
    const r = await kernel.execute(code);
    s.tEnd = now();
    cur = undefined;
    bytes = r.images[0]?.data.length ?? 0;
    got.push(s);
  }
  await kernel.execute('import sys\nsys.modules["_codedance"].config["profile"] = False');
  const p = phases(got);
  const buf = Buffer.alloc(Math.floor((bytes * 3) / 4), 7);
  const b64Us = perOpUs(() => buf.toString('base64'), 50);
  return [
    ...Object.keys(p).map((k) => ({
      name: `kernel.profile.crop_png_1024.${k}`,
      value: round(p[k]),
      unit: k.startsWith('iopub') ? 'msgs' : 'ms',
    })),
    { name: 'kernel.profile.crop_png_1024.node.png_to_base64', value: round(b64Us / 1000), unit: 'ms' },
    { name: 'kernel.profile.crop_png_1024.png_bytes', value: buf.length, unit: 'B' },
  ];
}
