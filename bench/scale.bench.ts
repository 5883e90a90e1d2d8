/**
 * The eval report at scale (issue #26 §3): a 10,000-sample run, its results file written here
 * the runner's way (buildRecord + storeRecordImages on trajectories made as the agent loop
 * makes them: system, question with its image, a reply with code, the tool response with its
 * text and an output image, the answer; the seed's `multi_modal_data` inline, every image once
 * more in `images/`), about 60 KB a line as for small dataset images.
 *
 *   - opening the report: the report model built from the file (`loadRun`, what the panel does)
 *     and its first render in a real browser (Debian's chromium through playwright-core, the
 *     report bundle of src/webview/report/main.ts and media/report.css, as bench/webview.bench.ts
 *     does for the chat): the `runs` message serialized (VS Code posts JSON), posted, the page
 *     built, laid out and painted. Goal ≤ 1 s. Baseline: the same for a 100-sample run.
 *   - the A/B view: two such runs. Goal ≤ 2 s.
 *   - memory: the peak RSS of a Node process that builds the model of a 10,000-sample run, and
 *     the page's JS heap with the A/B view open. Goal ≤ 300 MB each.
 *   - the table scrolled end to end a screen a frame: its longest task (reported; the table draws
 *     only the rows in view).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { DatasetSample } from '../src/core/data/types';
import { forEachLine } from '../src/core/eval/lineScan';
import { loadRun } from '../src/core/eval/report';
import { buildRecord } from '../src/core/eval/record';
import { recordImagesDir } from '../src/core/eval/recordTrajectory';
import type { ReportRun } from '../src/core/eval/reportTypes';
import { storeImages } from '../src/core/trajectory/imageFiles';
import type { Trajectory } from '../src/core/trajectory/types';
import { encodePng, prng } from '../test/fixtures/images';
import { fixtureTrajectory } from '../test/unit/data/exportFixtures';
import type { BenchResult } from './kernel.bench';

const ROOT = path.resolve(__dirname, '..');
const N = Number(process.env.CODEDANCE_BENCH_REPORT_SAMPLES ?? 10_000);
const ROUNDS = 3;
const round = (x: number, d = 1) => Number(x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** a photo-like PNG (gradients and a little noise), about `kb` KB */
function texturePng(seed: number, w: number, h: number): Buffer {
  const rand = prng(seed);
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const n = rand() < 0.3 ? Math.floor(rand() * 24) : 0;
      px[i] = ((x * 255) / w + n + seed * 40) & 255;
      px[i + 1] = ((y * 255) / h + n) & 255;
      px[i + 2] = (((x + y) * 128) / (w + h) + n * 2) & 255;
    }
  return encodePng(w, h, px);
}

const SOURCES = ['vstar', 'chart', 'hr_bench', 'thinklite_eureka'];

/**
 * Writes a results file of `n` samples (and its images/) as the runner writes it: each line a
 * record built from a trajectory, its images stored as files. 16 image pairs, reused: the line
 * holds them inline (the seed's field) either way.
 */
async function writeResults(file: string, n: number, seed: number): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const templates: { inline: Trajectory; stored: Trajectory }[] = [];
  for (let k = 0; k < 16; k++) {
    const inline = fixtureTrajectory({
      id: `t${k}`,
      question: 'q',
      input: texturePng(seed * 100 + k, 128, 96),
      turns: [
        {
          code: 'crop = input_image.crop((10, 10, 90, 70))\ncrop.show()\nprint(crop.size)',
          stdout: '(80, 60)',
          images: [texturePng(k, 64, 48)],
        },
      ],
      answer: 'a',
    });
    templates.push({ inline, stored: await storeImages(inline, recordImagesDir(file)) });
  }
  const rand = prng(seed);
  const fd = openSync(file, 'w');
  try {
    let chunk: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = i % templates.length;
      const question = `Sample ${i}: what is written on the ${['red', 'blue', 'green'][i % 3]} sign near the ${['door', 'car', 'tree', 'tower'][i % 4]}? Answer with the exact text.`;
      const acc = rand() < 0.62 ? 1 : 0;
      const answer = acc ? `sign ${i % 97}` : `sign ${(i + 1) % 97}`;
      const fix = (t: Trajectory): Trajectory => ({
        ...t,
        id: `run${seed}-${i}`,
        question,
        answer,
        turns: t.turns.map((x) => (x.answer ? { ...x, answer, content: `<think>done</think><answer>${answer}</answer>` } : x)),
      });
      const sample: DatasetSample = {
        index: i,
        dataSource: SOURCES[i % SOURCES.length],
        question,
        answer: `sign ${i % 97}`,
        images: [],
      };
      const rec = buildRecord(
        sample,
        fix(templates[k].inline),
        {
          result: { acc, score: acc, answer, format_correct: true } as never,
          detail: { scorer: 'default', method: 'judge', judgeText: acc ? 'Judgement: 1' : 'Judgement: 0' } as never,
        },
        { attempts: 1, timedOut: false, latencyMs: 2000 + rand() * 30_000 },
      );
      rec.codedance.trajectory = fix(templates[k].stored);
      if (rand() < 0.03) {
        rec.status = 'error';
        rec.codedance.outcome = 'error';
        rec.codedance.error = { name: 'ModelError', message: 'HTTP 500 from the endpoint' };
      }
      chunk.push(JSON.stringify(rec));
      if (chunk.length === 500) {
        writeSync(fd, chunk.join('\n') + '\n');
        chunk = [];
      }
    }
    if (chunk.length) writeSync(fd, chunk.join('\n') + '\n');
  } finally {
    closeSync(fd);
  }
}

/** the floor: the file read end to end in blocks, its lines found, nothing parsed */
async function rawRead(file: string): Promise<number> {
  const t0 = performance.now();
  let lines = 0;
  await forEachLine(file, () => lines++);
  if (!lines) throw new Error('empty results file');
  return performance.now() - t0;
}

const CHILD = `
const { loadRun } = require(process.argv[1]);
loadRun(process.argv[2]).then((r) => {
  const hwm = /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ samples: r.run.samples.length, peakMb: Number(hwm[1]) / 1024 }));
}, (e) => { console.error(e); process.exit(1); });`;

/** peak RSS of a fresh Node process that builds the report model of `file` (VmHWM; getrusage would count the parent) */
function peakRssOfLoad(file: string): number {
  const r = spawnSync(
    process.execPath,
    ['--require', path.join(ROOT, 'scripts/registerTs.cjs'), '-e', CHILD, path.join(ROOT, 'src/core/eval/report.ts'), file],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`loading the report in a child failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { peakMb: number }).peakMb;
}

async function reportPage() {
  const bundle = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ['src/webview/report/main.ts'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0].text;
  const css = readFileSync(path.join(ROOT, 'media', 'report.css'), 'utf8');
  const cs = (await import('../scripts/codeServer.mjs')) as typeof import('../scripts/codeServer.mjs');
  const browser = await cs.launchBrowser({ viewport: { width: 1280, height: 900 } });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (e) => console.error(`report bench: page error: ${e.message}`));
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>:root{--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-foreground:#ccc;--vscode-editor-background:#1f1f1f}${css}</style></head>
<body class="vscode-dark"><div id="root"></div><script>window.acquireVsCodeApi=()=>({postMessage(){},getState(){},setState(){}});</script><script>${script.replace(/<\/script/g, '<\\/script')}</script></body></html>`;
  await page.setContent(html);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  return { browser, page, cdp };
}

type Page = Awaited<ReturnType<typeof reportPage>>['page'];

/** ms from the `runs` message (its JSON, as VS Code posts it) to the page built, laid out and painted */
async function renderRuns(page: Page, json: string): Promise<number> {
  return page.evaluate(async (text) => {
    const rendered = new Promise<void>((resolve) => {
      const mo = new MutationObserver(() => {
        if (document.body.dataset.ready) {
          mo.disconnect();
          resolve();
        }
      });
      mo.observe(document.body, { attributes: true, attributeFilter: ['data-ready'] });
    });
    delete document.body.dataset.ready;
    const t0 = performance.now();
    window.postMessage(JSON.parse(text), '*');
    await rendered;
    void document.body.offsetHeight;
    await new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t0;
  }, json);
}

/** the longest task while the sample table is scrolled from its top to its end, a screen at a time */
async function scrollLongestTask(page: Page): Promise<{ longest: number; frames: number; tasks: number[] }> {
  return page.evaluate(async () => {
    // what the render before left to do is done first: only the scroll's tasks count
    await new Promise((r) => setTimeout(r, 300));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const longTasks: number[] = [];
    const po = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
    po.observe({ type: 'longtask', buffered: false });
    const scroller = (document.querySelector('.table-scroll') as HTMLElement | null) ?? document.scrollingElement!;
    scroller.scrollTop = 0;
    let frames = 0;
    const step = scroller.clientHeight || window.innerHeight;
    while (scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1 && frames < 2000) {
      scroller.scrollTop += step;
      await new Promise((r) => requestAnimationFrame(r));
      frames++;
    }
    await new Promise((r) => setTimeout(r, 100));
    po.disconnect();
    return { longest: Math.max(0, ...longTasks), frames, tasks: longTasks.map(Math.round) };
  });
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** --profile: where the page spent the scroll, by function (self time) */
function printProfile({ profile: p }: { profile: CpuProfile }): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15);
  process.stderr.write(
    `report bench: scroll profile (self ms):\n${top.map(([k, ms]) => `  ${ms.toFixed(0).padStart(6)} ${k}`).join('\n')}\n`,
  );
}

async function jsHeapMb(cdp: Awaited<ReturnType<typeof reportPage>>['cdp']): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
  return (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 2 ** 20;
}

async function timedLoad(files: string[]): Promise<{ ms: number; runs: ReportRun[]; json: string }> {
  const t0 = performance.now();
  const loaded = await Promise.all(files.map((f, i) => loadRun(f, i ? 'B' : 'A')));
  const runs = loaded.map((l) => l.run);
  // what the panel posts (VS Code sends a webview message as JSON)
  const json = JSON.stringify({ type: 'runs', runs, warnings: [] });
  return { ms: performance.now() - t0, runs, json };
}

export async function run(): Promise<BenchResult[]> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-report-bench-'));
  const { browser, page, cdp } = await reportPage();
  try {
    const a = path.join(tmp, 'a', 'result_m_a.jsonl');
    const b = path.join(tmp, 'b', 'result_m_b.jsonl');
    const small = path.join(tmp, 's', 'result_m_s.jsonl');
    let t = performance.now();
    await writeResults(a, N, 1);
    await writeResults(b, N, 2);
    await writeResults(small, 100, 3);
    const gb = statSync(a).size / 1e9;
    process.stderr.write(`report bench: wrote 2 × ${N} samples (${round(gb, 2)} GB each) in ${round((performance.now() - t) / 1000)} s\n`);

    const open: number[] = [];
    const model: number[] = [];
    const render: number[] = [];
    const openSmall: number[] = [];
    const ab: number[] = [];
    const raw: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await rawRead(a));
      const one = await timedLoad([a]);
      model.push(one.ms);
      render.push(await renderRuns(page, one.json));
      open.push(one.ms + render[render.length - 1]);
      const s = await timedLoad([small]);
      openSmall.push(s.ms + (await renderRuns(page, s.json)));
      const two = await timedLoad([a, b]);
      ab.push(two.ms + (await renderRuns(page, two.json)));
    }
    const heap = await jsHeapMb(cdp);
    if (process.env.CODEDANCE_BENCH_PROFILE === '1') {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const scroll = await scrollLongestTask(page);
    if (process.env.CODEDANCE_BENCH_PROFILE === '1') printProfile((await cdp.send('Profiler.stop')) as { profile: CpuProfile });
    if (scroll.tasks.length) process.stderr.write(`report bench: long tasks while scrolling: ${scroll.tasks.join(', ')} ms\n`);
    const peak = peakRssOfLoad(a);
    t = median(open);
    return [
      {
        name: `report: ${N.toLocaleString('en')}-sample results file (${round(gb, 2)} GB) → report model (loadRun)`,
        value: round(median(model)),
        unit: 'ms',
        baseline: round(median(raw)),
        ratio: round(median(model) / median(raw), 2),
      },
      {
        name: `report: ${N.toLocaleString('en')}-sample run, \`runs\` message → page built, laid out and painted`,
        value: round(median(render)),
        unit: 'ms',
      },
      {
        name: `report: opens a ${N.toLocaleString('en')}-sample run (model built + first render; baseline 100 samples)`,
        value: round(t),
        unit: 'ms',
        baseline: round(median(openSmall)),
        ratio: round(t / median(openSmall), 2),
        goal: '≤ 1000 ms',
        pass: t <= 1000,
      },
      {
        name: `report: A/B view of two ${N.toLocaleString('en')}-sample runs (both models + first render)`,
        value: round(median(ab)),
        unit: 'ms',
        goal: '≤ 2000 ms',
        pass: median(ab) <= 2000,
      },
      {
        name: `report: memory, ${N.toLocaleString('en')} samples (peak RSS of the Node process building the model; the page's JS heap with A/B open)`,
        value: round(Math.max(peak, heap)),
        unit: 'MB',
        goal: `≤ 300 MB each (Node ${round(peak)} MB, page ${round(heap)} MB)`,
        pass: peak <= 300 && heap <= 300,
      },
      {
        name: `report: the A/B sample table scrolled end to end, a screen a frame (${scroll.frames} screens), longest task (${scroll.tasks.length} over 50 ms)`,
        value: round(scroll.longest),
        unit: 'ms',
      },
    ];
  } finally {
    await browser.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
