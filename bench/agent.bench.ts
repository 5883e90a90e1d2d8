/**
 * Agent loop overhead, measured side by side with its own parts in the same run:
 *
 *   loop      runAgent() answering "How many red circles?" (codedance protocol): two streamed
 *             model calls to the fixture server, one cell on a warm kernel, the observation,
 *             the trajectory, every event;
 *   parts     the same image preparation on the kernel, the same two HTTP requests (the exact
 *             bodies the loop sent, captured) read to the end with plain fetch, and the same
 *             cell executed on the same warm kernel.
 *
 * ratio = loop / parts; what is left over is the harness itself (prompt building, stream
 * parsing, events). Goal: ≤ 1.10× its parts and ≤ 5 ms added, at the median.
 * Rounds alternate so that machine noise hits both alike.
 *
 * With --profile (CODEDANCE_BENCH_PROFILE=1), the loop's phases (stamped as its events reach the
 * consumer) side by side with the part each one corresponds to, timed alone in the same round.
 */
import { runAgentToEnd } from '../src/core/agent/runAgent';
import { resolvePython, startKernelSession } from '../src/core/kernel';
import { ModelClient } from '../src/core/model';
import { getProtocol, templateHash } from '../src/core/protocol';
import { startFixtureModel } from '../test/fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../test/fixtures/images';
import type { BenchResult } from './kernel.bench';

const ROUNDS = 30;
const PROFILE = process.env.CODEDANCE_BENCH_PROFILE === '1';

/** the loop's phases, from event stamps: [name, from event, to event] (first occurrence after `from`) */
const PHASES: Array<[string, string, string, string?]> = [
  ['prepare images + prompt (loop start -> model call 1)', 'start', 'turn_start'],
  ['model call 1 (request, SSE stream, deltas)', 'turn_start', 'turn_end', 'fetch1'],
  ['parse reply -> cell starts', 'turn_end', 'exec_start'],
  ['cell (kernel execute, result)', 'exec_start', 'exec_end', 'exec'],
  ['observation -> model call 2', 'exec_end', 'turn_start'],
  ['model call 2', 'turn_start@2', 'turn_end@2', 'fetch2'],
  ['answer -> trajectory done', 'turn_end@2', 'done'],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(): Promise<BenchResult[]> {
  const py = await resolvePython({ explicit: process.env.CODEDANCE_PYTHON });
  const fm = await startFixtureModel();
  const kernel = await startKernelSession({ python: py.python });
  try {
    const img = circlesImage({ red: 6, blue: 4, seed: 5 });
    const protocol = getProtocol('codedance');
    const model = new ModelClient({ endpoints: fm.baseUrl });
    const modelName = await model.resolveModel();
    const loop: number[] = [];
    const parts: number[] = [];
    const phaseMs: Record<string, number[]> = {};
    const partMs: Record<string, number[]> = { prep: [], fetch1: [], exec: [], fetch2: [], tail: [] };
    let events = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      const before = fm.chatRequests.length;
      const t0 = performance.now();
      const stamps: Array<[string, number]> = [];
      const t = await runAgentToEnd(
        circlesQuestion('red'),
        [img.png],
        { model, modelName, protocol, kernel, protocolTemplateHash: templateHash(protocol) },
        PROFILE ? (e) => stamps.push([e.type, performance.now()]) : undefined,
      );
      const tLoop = performance.now() - t0;
      if (PROFILE && r > 0) {
        events = stamps.length;
        const at = (spec: string, after = 0) => {
          const [type, nth] = spec.split('@');
          let seen = 0;
          const i = stamps.findIndex(([ty], k) => k >= after && ty === type && ++seen === Number(nth ?? 1));
          return i;
        };
        for (const [name, from, to] of PHASES) {
          const a = at(from);
          const b = a < 0 ? -1 : at(to.split('@')[0], a);
          if (a >= 0 && b >= 0) (phaseMs[name] ??= []).push(stamps[b][1] - stamps[a][1]);
        }
        (phaseMs['runAgentToEnd returns after done'] ??= []).push(t0 + tLoop - stamps[stamps.length - 1][1]);
        (phaseMs['first event after the call'] ??= []).push(stamps[0][1] - t0);
      }
      if (t.answer !== '6') throw new Error(`agent bench: wrong answer ${t.answer}`);
      const bodies = fm.chatRequests.slice(before).map((q) => q.body);
      const code = t.turns[0].cells[0].code;

      const t1 = performance.now();
      const lap: number[] = [t1];
      // the image preparation the loop asks of the kernel (smart resize, input_image.jpg, PNG for the request)
      await kernel.setInputImages([img.png], protocol.imagePreparation);
      lap.push(performance.now());
      for (const body of bodies) {
        const res = await fetch(`${fm.baseUrl}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await res.text();
        lap.push(performance.now());
        if (body === bodies[0]) {
          await kernel.execute(code);
          lap.push(performance.now());
        }
      }
      const tParts = performance.now() - t1;
      if (PROFILE && r > 0 && lap.length === 5) ['prep', 'fetch1', 'exec', 'fetch2'].forEach((k, i) => partMs[k].push(lap[i + 1] - lap[i]));
      if (PROFILE && r > 0) {
        // the first model call through ModelClient alone (SDK request + SSE parsing + its events), no loop
        const b = bodies[0] as Record<string, unknown>;
        const t2 = performance.now();
        let n = 0;
        for await (const ev of model.chat({
          model: modelName,
          messages: b.messages as never,
          tools: b.tools as never,
          temperature: b.temperature as never,
          max_tokens: b.max_tokens as never,
        }))
          if (ev.type === 'delta') n++;
        (partMs.client ??= []).push(performance.now() - t2);
        (partMs.deltas ??= []).push(n);
      }
      if (r > 0) {
        // round 0 warms both paths
        loop.push(tLoop);
        parts.push(tParts);
      }
    }
    const lm = median(loop);
    const pm = median(parts);
    return [
      {
        name: 'agent.loop.round_trip (2 calls + 1 cell)',
        value: round(lm),
        unit: 'ms',
        baseline: round(pm),
        ratio: round(lm / pm, 3),
        goal: '≤ 1.10× its parts and ≤ 5 ms added',
        pass: lm / pm <= 1.1 && lm - pm <= 5,
      },
      { name: 'agent.loop.added', value: round(lm - pm), unit: 'ms' },
      ...(PROFILE
        ? [
            { name: 'agent.profile.events per run', value: events, unit: 'events' },
            {
              name: 'agent.profile.model call 1 via ModelClient alone (vs plain fetch)',
              value: round(median(partMs.client), 3),
              unit: 'ms',
              baseline: round(median(partMs.fetch1), 3),
            },
            { name: 'agent.profile.deltas in model call 1', value: median(partMs.deltas), unit: 'events' },
            ...Object.entries(phaseMs).map(([name, xs]) => {
              const part = PHASES.find(([n]) => n === name)?.[3];
              return {
                name: `agent.profile.${name}`,
                value: round(median(xs), 3),
                unit: 'ms',
                ...(part
                  ? { baseline: round(median(partMs[part]), 3) }
                  : name.startsWith('prepare')
                    ? { baseline: round(median(partMs.prep), 3) }
                    : {}),
              };
            }),
          ]
        : []),
    ];
  } finally {
    await kernel.dispose();
    await fm.close();
  }
}

if (require.main === module) {
  run().then(
    (rs) => console.log(JSON.stringify(rs, null, 1)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
