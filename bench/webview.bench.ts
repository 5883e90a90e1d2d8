/**
 * The chat webview renders a stored 50-image trajectory (25 turns, 2 cells each, one 320×240
 * PNG per cell, markdown thinking text) in a real browser: Debian's chromium through
 * playwright-core, the bundled panel script (src/webview/main.ts) and media/chat.css loaded in a
 * page with a stub `acquireVsCodeApi`. Measured from the `conversation` message being posted
 * (structured clone included) to the DOM built and laid out, and to the next painted frame.
 * Goal (issue 4): ≤ 200 ms. Baseline: the same conversation with no images.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { createTrajectory } from '../src/core/trajectory/create';
import type { Trajectory } from '../src/core/trajectory/types';
import type { ExchangeView } from '../src/protocol/chat';
import { encodePng } from '../test/fixtures/images';
import type { BenchResult } from './kernel.bench';

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = 7;
const IMAGES = Number(process.env.CODEDANCE_BENCH_IMAGES ?? 50);

function pngBase64(seed: number): string {
  const w = 320;
  const h = 240;
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const inCircle = (x - 160 - (seed % 7) * 10) ** 2 + (y - 120) ** 2 < 60 ** 2;
      // a plot-like picture: flat background, a gradient band, a disc, some grid lines
      const grid = x % 40 === 0 || y % 40 === 0;
      rgb[i] = inCircle ? 220 : grid ? 180 : (255 - (y * 255) / h / 4) | 0;
      rgb[i + 1] = inCircle ? 30 : grid ? 180 : (255 - (x * 255) / w / 4) | 0;
      rgb[i + 2] = inCircle ? 30 : grid ? 180 : (240 + ((x * y + seed) % 16)) & 255;
    }
  }
  return encodePng(w, h, rgb).toString('base64');
}

export function bigTrajectory(images = IMAGES): ExchangeView {
  const turns: Trajectory['turns'] = [];
  const perTurn = 2;
  for (let t = 0; t < Math.ceil(images / perTurn); t++) {
    const cells = [];
    for (let c = 0; c < perTurn && t * perTurn + c < images; c++) {
      const id = `t${t}-c${c}`;
      cells.push({
        id,
        turn: t,
        code: `import numpy as np\nimport matplotlib.pyplot as plt\ncrop = input_image.crop((${t}, ${c}, ${t + 100}, ${c + 80}))\nplt.imshow(crop)\nplt.show()\nprint('step ${t}.${c}', crop.size)`,
        status: 'ok' as const,
        stdout: `step ${t}.${c} (100, 80)\n`,
        stderr: '',
        images: [
          {
            id: `${id}-i0`,
            mime: 'image/png' as const,
            data: pngBase64(t * perTurn + c),
            width: 320,
            height: 240,
            source: 'figure' as const,
          },
        ],
        durationMs: 120 + t,
      });
    }
    turns.push({
      index: t,
      endpoint: 'http://127.0.0.1:8000/v1',
      startedAt: new Date().toISOString(),
      latencyMs: 800,
      content: `<think>Step ${t}: I will **crop** the region around \`(${t}, ${t})\` and look at it:\n\n- zoom in\n- count the red pixels\n\nThen compare with the previous step.</think>\n<code>\n\`\`\`python\nprint(1)\n\`\`\`\n</code>`,
      toolCalls: [],
      retries: 0,
      usage: { promptTokens: 1000 + t * 300, completionTokens: 120, totalTokens: 1120 + t * 300 },
      cells,
      malformed: [],
    });
  }
  // the webview's view of an exchange: the trajectory without its messages
  const { messages: _messages, ...view } = createTrajectory({
    id: 'bench',
    createdAt: new Date().toISOString(),
    question: 'How many red circles are there?',
    inputImages: [{ id: 'input-0', mime: 'image/png', data: pngBase64(99), width: 320, height: 240, source: 'input' }],
    model: 'codedance-7b',
    endpoints: ['http://127.0.0.1:8000/v1'],
    protocol: 'codedance',
    sampling: {},
    maxTurns: 30,
    turns,
    answer: '3',
    status: 'answered',
    usage: { promptTokens: 100000, completionTokens: 3000, totalTokens: 103000 },
    durationMs: 42000,
  });
  return view;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(): Promise<BenchResult[]> {
  const bundle = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ['src/webview/main.ts'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0].text;
  const css = readFileSync(path.join(ROOT, 'media', 'chat.css'), 'utf8');
  const cs = (await import('../scripts/codeServer.mjs')) as typeof import('../scripts/codeServer.mjs');
  const browser = await cs.launchBrowser({ viewport: { width: 480, height: 900 } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('crash', () => console.error('webview bench: the page crashed'));
    page.on('pageerror', (e) => console.error(`webview bench: page error: ${e.message}`));
    // theme variables as VS Code's dark theme sets them (a few; the rest fall back)
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>:root{--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-foreground:#ccc;--vscode-editor-background:#1f1f1f;--vscode-sideBar-background:#181818;--vscode-textCodeBlock-background:#2b2b2b}${css}</style></head>
<body class="vscode-dark"><div id="root"></div><script>window.acquireVsCodeApi=()=>({postMessage(){},getState(){},setState(){}});</script><script>${script.replace(/<\/script/g, '<\\/script')}</script></body></html>`;
    await page.setContent(html);
    await page.waitForSelector('.compose');

    const measure = async (view: ExchangeView) =>
      page.evaluate(async (v) => {
        const rendered = new Promise<number>((resolve) => {
          const mo = new MutationObserver(() => {
            if (document.body.dataset.rendered) {
              mo.disconnect();
              void document.body.offsetHeight; // layout
              resolve(performance.now());
            }
          });
          mo.observe(document.body, { attributes: true, attributeFilter: ['data-rendered'] });
        });
        delete document.body.dataset.rendered;
        const t0 = performance.now();
        window.postMessage({ type: 'conversation', id: 'bench', title: 'bench', exchanges: [v] }, '*');
        const tDom = await rendered;
        await new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const tFrame = performance.now();
        const imgs = [...document.querySelectorAll<HTMLImageElement>('.cell-images img')];
        // images load lazily: what must be decoded is what is on screen
        // (the conversation opens scrolled to its end: images above the window are not on screen either,
        // and lazy ones there never load, so waiting for them would wait forever)
        const visible = imgs.filter((i) => {
          const r = i.getBoundingClientRect();
          return r.bottom > 0 && r.top < window.innerHeight;
        });
        await Promise.all(visible.map((i) => i.decode().catch(() => undefined)));
        const tDecoded = performance.now();
        return { dom: tDom - t0, frame: tFrame - t0, decoded: tDecoded - t0, images: imgs.length };
      }, view);

    const withImages = bigTrajectory();
    const noImages: ExchangeView = {
      ...withImages,
      turns: withImages.turns.map((t) => ({ ...t, cells: t.cells.map((c) => ({ ...c, images: [] })) })),
    };
    await measure(withImages); // warm-up (JIT, fonts)
    await measure(noImages);
    const a: { dom: number; frame: number; decoded: number; images: number }[] = [];
    const b: { frame: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      a.push(await measure(withImages));
      b.push(await measure(noImages));
    }
    if (a[0].images !== IMAGES) throw new Error(`rendered ${a[0].images} images, expected ${IMAGES}`);
    const frame = median(a.map((x) => x.frame));
    const base = median(b.map((x) => x.frame));
    return [
      {
        name: `webview: ${IMAGES}-image trajectory, message → painted frame`,
        value: Number(frame.toFixed(1)),
        unit: 'ms',
        baseline: Number(base.toFixed(1)),
        ratio: Number((frame / base).toFixed(2)),
        goal: '≤ 200 ms',
        pass: frame <= 200,
      },
      {
        name: `webview: ${IMAGES}-image trajectory, message → DOM built + laid out`,
        value: Number(median(a.map((x) => x.dom)).toFixed(1)),
        unit: 'ms',
      },
      {
        name: `webview: ${IMAGES}-image trajectory, message → images on screen decoded`,
        value: Number(median(a.map((x) => x.decoded)).toFixed(1)),
        unit: 'ms',
      },
    ];
  } finally {
    await browser.close();
  }
}
