/** Exit codes a person (and a script) can rely on. */
export const EXIT = {
  ok: 0,
  /** the run ended without an answer (turn limit) */
  noAnswer: 1,
  /** bad command line or input file */
  usage: 2,
  /** the Python interpreter or kernel cannot be used */
  environment: 3,
  /** the model endpoint failed (unreachable, HTTP errors after retries) */
  model: 4,
  /** a training cluster failed or refused (Ray dashboard, SSH, Slurm) */
  cluster: 5,
  /** no such job on the cluster */
  notFound: 6,
  internal: 70,
  /** interrupted (Ctrl+C) */
  cancelled: 130,
} as const;

/** An error the CLI reports as one line, with its cause and fix, and a specific exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'CliError';
  }
}
