/**
 * `codedance` — the CLI on the same core as the extension.
 *   codedance ask IMAGE "question" [options]   run the agent loop in the terminal
 *   codedance eval ...                         (not available yet)
 *   codedance jobs ...                         (not available yet)
 */
import { runAsk } from './ask';
import { CliError, EXIT } from './errors';

const USAGE = `usage: codedance <command> [options]

commands:
  ask IMAGE "QUESTION"   ask a vision-language model about an image; its Python runs in a local Jupyter kernel
  eval                   evaluate a model on a dataset (not available yet)
  jobs                   submit and watch training jobs (not available yet)

run 'codedance ask --help' for the options of a command.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'ask':
      return runAsk(rest);
    case 'eval':
    case 'jobs':
      throw new CliError(`'codedance ${cmd}' is not available yet in this build.`, EXIT.usage);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof CliError) {
      console.error(`codedance: ${e.message}`);
      process.exit(e.exitCode);
    }
    console.error(`codedance: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(EXIT.internal);
  },
);
