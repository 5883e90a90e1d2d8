/**
 * `codedance` — the CLI on the same core as the extension.
 *   codedance ask IMAGE "question" [options]   run the agent loop in the terminal
 *   codedance eval --data-path FILE ...        evaluate a model on a parquet/jsonl dataset
 *   codedance jobs submit|list|status|logs|stop|delete   training jobs on Ray or Slurm (over SSH)
 *   codedance data export|verify               training data out of chats/evals; SFT rows replayed
 *   codedance data benchmark|fetch             benchmarks and training sets from the Hugging Face Hub
 *   codedance serve start|attach|status|stop             a vLLM server on the cluster, reached through SSH
 *   codedance kernels start|status|stop                  Jupyter Servers on the cluster's CPU nodes for an eval's kernels
 *   codedance train metrics|rollouts|watch               an RL run: key metrics, alarms, rollouts (a log/folder or a job)
 */
import { isCodeDanceError } from '../core/errors';
import { asDiskFull } from '../core/files/diskFull';
import { runAsk } from './ask';
import { runData } from './data';
import { runEvalCli } from './eval';
import { runEvalTableCli } from './evalTable';
import { CliError, describeError, EXIT, exitCodeFor, type CliCommand } from './errors';
import { runJobs } from './jobs';
import { runKernels } from './kernels';
import { runServe } from './serve';
import { runTrain } from './train';

const USAGE = `usage: codedance <command> [options]

commands:
  ask IMAGE "QUESTION"   ask a vision-language model about an image; its Python runs in a local Jupyter kernel
  eval                   evaluate a model on a parquet/jsonl dataset with the seed's scoring (resumable);
                         'eval table RUN…' compares eval runs across benchmarks
  jobs                   submit, watch and stop training jobs on Ray or Slurm (over SSH)
  data                   export chats and eval runs as CodeDance-SFT/RL parquet; verify an SFT file's code;
                         fetch benchmarks (data benchmark) and training sets (data fetch) from the Hugging Face Hub
  serve                  serve a checkpoint (or the seed's judge) with vLLM on the cluster and reach it here
  kernels                kernel hosts on the cluster's CPU nodes for an eval's kernels (eval --kernel-hosts)
  train                  watch an RL run: key metrics and alarms from its log, its rollouts (a file/folder or a job)

run 'codedance ask --help' for the options of a command.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'ask':
      return runAsk(rest);
    case 'eval':
      return rest[0] === 'table' ? runEvalTableCli(rest.slice(1)) : runEvalCli(rest);
    case 'jobs':
      return runJobs(rest);
    case 'data':
      return runData(rest);
    case 'serve':
      return runServe(rest);
    case 'kernels':
      return runKernels(rest);
    case 'train':
      return runTrain(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return cmd === undefined ? EXIT.usage : EXIT.ok;
    case '--version':
      console.log(process.env.CODEDANCE_VERSION ?? '0.1.0');
      return EXIT.ok;
    default:
      throw new CliError(`unknown command '${cmd}'.\n\n${USAGE}`, EXIT.usage);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof CliError) {
      console.error(`codedance: ${e.message}`);
      process.exit(e.exitCode);
    }
    // errors from core: worded with this command's flags, exit code by kind; a full disk is
    // named whatever threw it (a bare ENOSPC from Node, an OSError from the kernel)
    const err = asDiskFull(e) ?? e;
    if (isCodeDanceError(err) && err.kind !== 'internal') {
      const command: CliCommand | undefined =
        argv[0] === 'ask' || argv[0] === 'eval' || argv[0] === 'jobs' || argv[0] === 'data'
          ? argv[0]
          : argv[0] === 'serve' || argv[0] === 'train' || argv[0] === 'kernels'
            ? 'jobs'
            : undefined;
      console.error(`codedance: ${describeError(err, command)}`);
      process.exit(exitCodeFor(err));
    }
    console.error(`codedance: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(EXIT.internal);
  },
);
