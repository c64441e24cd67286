// `tidewire fuzzing-client`: runs the WebSocket client through an Autobahn fuzzingserver.

import { Command } from 'commander';
import { integerOption } from './integer-option.js';
import { runFuzzingClient } from './fuzzing-client.js';

interface FuzzingClientCommandOptions {
  url: string;
  agent: string;
  maxMessageBytes: number;
}

/** Builds the `fuzzing-client` subcommand. */
export function fuzzingClientCommand(): Command {
  return new Command('fuzzing-client')
    .description('run the client through an Autobahn testsuite fuzzingserver (echoing every case)')
    .option('--url <url>', 'the fuzzingserver', 'ws://127.0.0.1:9001')
    .option('--agent <name>', 'agent name in the reports', 'tidewire')
    .option('--max-message-bytes <bytes>', 'largest message accepted', integerOption(1, Number.MAX_SAFE_INTEGER), 64 * 1024 * 1024)
    .action(async (options: FuzzingClientCommandOptions) => {
      const count = await runFuzzingClient({ ...options, log: (line) => process.stdout.write(`${line}\n`) });
      process.stdout.write(`ran ${count} cases; reports updated for agent "${options.agent}"\n`);
    });
}
