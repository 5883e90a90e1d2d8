/**
 * A job's log as it grows, through a dropped connection: when the stream breaks while the job
 * still runs, it reconnects (waiting 1 s, 2 s, … up to 30 s between tries) and goes on after the
 * last byte it gave out, so nothing is given twice. It ends once the job is over and its log read
 * to the end.
 *
 * Slurm: the backend's tail from the offset (`TailOptions.fromByte`: `tail -c +<offset+1> -F` of
 * the job's output file over the profile's SSH connection), so a reconnect (or a window reloaded
 * with a saved offset) reads only what is new. Ray: the dashboard's log stream starts at the log's
 * beginning; the bytes before the offset are read and dropped (Ray's API has no offset).
 */
import { isCodeDanceError } from '../errors';
import { isTerminal, JobNotFoundError, JobsError, type JobBackend } from '../jobs';
import { SlurmBackend } from '../jobs/SlurmBackend';
import { shQuote } from '../jobs/slurmText';

export interface FollowOptions {
  /** bytes (UTF-8) of the log already read: following starts after them */
  offset?: number;
  signal?: AbortSignal;
  /** the first wait before a reconnect, ms (default 1000); it doubles up to `maxRetryMs` (default 30000) */
  retryMs?: number;
  maxRetryMs?: number;
  /** told before each reconnect: how many so far, the offset it resumes at, and the failure if there was one */
  onReconnect?: (info: { attempt: number; offset: number; error?: unknown }) => void;
}

/** Where the bytes come from. */
interface LogSource {
  /** the log from byte `from` on, live, until the job ends or the connection drops */
  stream(from: number, signal?: AbortSignal): AsyncIterable<string>;
  /** the log from byte `from` on, as it is now */
  rest(from: number): Promise<string>;
}

const SLURM_JOB_ID = /^\d+(?:_\d+)?$/;

/** The text after the first `from` bytes of a stream that starts at the log's beginning. */
async function* skipBytes(src: AsyncIterable<string>, from: number): AsyncIterable<string> {
  let pos = 0;
  for await (const chunk of src) {
    const len = Buffer.byteLength(chunk, 'utf8');
    const out =
      pos >= from
        ? chunk
        : pos + len > from
          ? Buffer.from(chunk, 'utf8')
              .subarray(from - pos)
              .toString('utf8')
          : '';
    pos += len;
    if (out) yield out;
  }
}

function sliceBytes(text: string, from: number): string {
  return from <= 0 ? text : Buffer.from(text, 'utf8').subarray(from).toString('utf8');
}

/** Any backend: its own stream and whole-log read, the first `from` bytes skipped. */
function genericSource(backend: JobBackend, id: string): LogSource {
  return {
    stream: (from, signal) => skipBytes(backend.tailLogs(id, { signal }), from),
    rest: async (from) => sliceBytes(await backend.logs(id), from),
  };
}

/**
 * Slurm: the backend's own tail from byte `from` on (`TailOptions.fromByte`: only the new bytes
 * cross the network); what is left after the stream, read once from the output file.
 */
function slurmSource(backend: SlurmBackend, id: string, logPath: string | undefined): LogSource {
  const where = backend.ssh.target.label;
  return {
    stream: (from, signal) => backend.tailLogs(id, { signal, fromByte: from }),
    async rest(from) {
      // aged out of slurmctld: the backend finds the file by name (its last 20 MB)
      if (!logPath) return sliceBytes(await backend.logs(id), from);
      const p = shQuote(logPath);
      const r = await backend.ssh.exec(`test -e ${p} || exit 3; tail -c +${from + 1} ${p}`);
      if (r.code === 3) return '';
      if (r.code === null) throw new JobsError('connection', `SSH to ${where} dropped while reading ${logPath}`);
      if (r.code !== 0) throw new JobsError('remote', `Slurm at ${where}: cannot read ${logPath}: ${r.stderr.trim()}`);
      return r.stdout;
    },
  };
}

async function logSource(backend: JobBackend, id: string): Promise<LogSource> {
  if (!(backend instanceof SlurmBackend) || !SLURM_JOB_ID.test(id)) return genericSource(backend, id);
  const info = await backend.status(id).catch((e: unknown) => {
    if (e instanceof JobNotFoundError) return undefined; // aged out of slurmctld: the backend finds its file by name
    throw e;
  });
  return slurmSource(backend, id, info?.logPath);
}

/** Whether the job is over: a terminal state, or gone from the cluster (aged out, deleted). */
async function jobOver(backend: JobBackend, id: string): Promise<boolean> {
  try {
    return isTerminal((await backend.status(id)).status);
  } catch (e) {
    if (e instanceof JobNotFoundError) return true;
    throw e;
  }
}

/** The whole log as it is now (Slurm: the whole output file, not the backend's last 20 MB). */
export async function readJobLog(backend: JobBackend, id: string): Promise<string> {
  return (await logSource(backend, id)).rest(0);
}

/** A failure worth another try: a dropped or refused connection, a server error. Not: no such job, a refused token. */
function retryable(e: unknown): boolean {
  return isCodeDanceError(e) && e.retryable;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function* follow(backend: JobBackend, id: string, opts: FollowOptions): AsyncGenerator<string> {
  const { signal } = opts;
  const base = opts.retryMs ?? 1000;
  let offset = Math.max(0, opts.offset ?? 0);
  let wait = base;
  let attempt = 0;
  let source: LogSource | undefined;
  while (!signal?.aborted) {
    let error: unknown;
    try {
      source ??= await logSource(backend, id);
      for await (const chunk of source.stream(offset, signal)) {
        offset += Buffer.byteLength(chunk, 'utf8');
        wait = base;
        yield chunk;
      }
      if (signal?.aborted) return;
      // the stream ended: the job is over (read what it did not deliver), or the connection dropped
      if (await jobOver(backend, id)) {
        const rest = await source.rest(offset);
        if (rest) yield rest;
        return;
      }
    } catch (e) {
      if (signal?.aborted) return;
      if (!retryable(e)) throw e;
      error = e;
    }
    attempt++;
    opts.onReconnect?.({ attempt, offset, error });
    await sleep(wait, signal);
    wait = Math.min(wait * 2, opts.maxRetryMs ?? 30000);
  }
}

/**
 * A job's log from `offset` on, live, across dropped connections; ends when the job is over and
 * its log read, or when the signal aborts. A failure that another try cannot mend (no such job,
 * a refused token) is thrown.
 */
export function followJobLog(backend: JobBackend, id: string, opts: FollowOptions = {}): AsyncIterable<string> {
  return { [Symbol.asyncIterator]: () => follow(backend, id, opts) };
}
