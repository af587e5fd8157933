/**
 * The `p2pgen` command line: a thin yargs shell over the generator, the checker and the broker.
 * Known user errors print as diagnostics with exit code 1; bad usage exits 2.
 */
import yargs from 'yargs';
import { buildAndWatch, buildOnce, type Output } from './commands/build.js';
import { runBroker } from './commands/broker.js';
import { runCheck, UsageError as CheckUsageError, type CheckFormat } from './commands/check.js';
import { VERSION } from './version.js';

const console_: Output = {
  log: (text) => process.stdout.write(text + '\n'),
  error: (text) => process.stderr.write(text + '\n'),
};

/** Bad command-line usage: reported with a hint, exit code 2. */
class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName('p2pgen')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'Name a command: build, check or broker.')
    .command(
      'build <contractsDir>',
      'Generate typed proxies, codecs, validators, .proto and manifest from decorated contracts',
      (y) =>
        y
          .positional('contractsDir', { type: 'string', demandOption: true, describe: 'Folder with the contract .ts files' })
          .option('out', { type: 'string', default: 'generated', describe: 'Output folder' })
          .option('watch', { type: 'boolean', default: false, describe: 'Rebuild when a contract changes' }),
      async (args) => {
        if (args.watch) {
          await buildAndWatch({ contractsDir: args.contractsDir, out: args.out }, console_);
          await new Promise(() => undefined);
        }
        exitCode = await buildOnce({ contractsDir: args.contractsDir, out: args.out }, console_);
      },
    )
    .command(
      'check <contractsDir>',
      'Fail when generated code drifted, or contracts changed incompatibly with a baseline',
      (y) =>
        y
          .positional('contractsDir', { type: 'string', demandOption: true, describe: 'Folder with the contract .ts files' })
          .option('out', { type: 'string', default: 'generated', describe: 'Output folder to check for drift' })
          .option('against', { type: 'string', describe: 'Baseline: a manifest.json, a p2pgen.lock.json, or a git ref (main, origin/main~3)' })
          .option('format', { choices: ['text', 'json', 'github'] as const, default: 'text' as const, describe: 'Report format (github: Actions annotations)' })
          .option('rules', { type: 'string', describe: 'Rules to apply: wire, source, all, rule names, -name to drop one (default: p2pgen.config.json, else wire)' }),
      async (args) => {
        try {
          exitCode = await runCheck({ contractsDir: args.contractsDir, out: args.out, against: args.against, format: args.format as CheckFormat, rules: args.rules }, console_);
        } catch (error) {
          if (error instanceof CheckUsageError) throw new UsageError(error.message);
          throw error;
        }
      },
    )
    .command(
      'broker',
      'Run a broker peers connect to over WebSocket',
      (y) =>
        y
          .option('port', { type: 'number', default: 8080, describe: 'Port to listen on (0 picks a free one)' })
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
          .option('max-frame-bytes', { type: 'number', describe: 'Largest frame a connection may send (default 1 MiB)' })
          .option('nats', { type: 'string', describe: 'NATS server URL to form a cluster with other brokers' }),
      async (args) => {
        if (args.nats !== undefined) throw new UsageError('--nats: clustering over NATS is not available in this version yet');
        exitCode = await runBroker({ port: args.port, host: args.host, maxFrameBytes: args.maxFrameBytes }, console_);
      },
    )
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .help()
    .alias('h', 'help');
  try {
    await parser.parseAsync();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`p2pgen: ${error.message}\nRun 'p2pgen --help' for usage.\n`);
    return 2;
  }
  return exitCode;
}
