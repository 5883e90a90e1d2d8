/**
 * A stand-in `vllm` for serve tests: prints its arguments, then serves the project's fixture model
 * (test/fixtures/serveFixtureModel.ts) under the served name — the fixture judge when that name is
 * `judge` — or, by model path, fails like a real one (/bad), never listens (/silent), or serves
 * another name (/mismatch).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as dns from 'node:dns/promises';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');

const FAKE_VLLM = `#!/bin/bash
echo "vllm-args: $*"
[ "$1" = serve ] || exit 2
MODEL="$2"; shift 2
while [ $# -gt 0 ]; do case "$1" in --port) PORT=$2; shift;; --served-model-name) NAME=$2; shift;; esac; shift; done
case "$MODEL" in
  /bad) echo "RuntimeError: CUDA out of memory. Tried to allocate 20.00 GiB (stand-in)" >&2; exit 1;;
  /silent) exec sleep 600;;
  /mismatch) NAME=other-model;;
esac
cd ${REPO}
[ "$NAME" = judge ] && exec node --require ./scripts/registerTs.cjs test/integration/serve/serveJudge.ts --port "$PORT" --model judge
exec node --require ./scripts/registerTs.cjs test/fixtures/serveFixtureModel.ts --port "$PORT" --model "$NAME" --chunk-delay-ms 25
`;

/** Writes the stand-in into `dir`/bin; returns the environment a serve job needs to find it. */
export async function fakeVllmEnv(dir: string): Promise<Record<string, string>> {
  const bin = path.join(dir, 'serve-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'vllm'), FAKE_VLLM);
  chmodSync(path.join(bin, 'vllm'), 0o755);
  const env: Record<string, string> = { PATH: `${bin}:${process.env.PATH}` };
  // the fixture listens on 127.0.0.1: the node's name must lead there, else it announces 127.0.0.1
  const addr = await dns.lookup(os.hostname().split('.')[0]).catch(() => undefined);
  if (!addr || !addr.address.startsWith('127.')) env.SERVE_ADVERTISE_HOST = '127.0.0.1';
  return env;
}
