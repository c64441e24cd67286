// `tidewire echo`: runs the echo server until SIGINT/SIGTERM.

import { Command } from 'commander';
import { integerOption } from './integer-option.js';
import { startEchoServer } from './echo-server.js';
import { shutdownOnSignal } from './shutdown-on-signal.js';

interface EchoCommandOptions {
  port: number;
  host: string;
  deflate: boolean;
  maxMessageBytes?: number;
}

/** Builds the `echo` subcommand. */
export function echoCommand(): Command {
  return new Command('echo')
    .description('echo every message back (text as text, binary as binary); for Autobahn runs and benchmarks')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integerOption(0, 65_535), 9001)
    .option('--host <host>', 'interface to listen on (0.0.0.0 to accept remote peers)', '127.0.0.1')
    .option('--no-deflate', 'refuse permessage-deflate')
    .option('--max-message-bytes <bytes>', 'largest message accepted, 1009 beyond', integerOption(1, Number.MAX_SAFE_INTEGER))
    .action(async (options: EchoCommandOptions) => {
      const server = await startEchoServer({
        port: options.port,
        host: options.host,
        deflate: options.deflate,
        maxMessageBytes: options.maxMessageBytes,
      });
      process.stdout.write(`tidewire echo listening on ${server.url}\n`);
      shutdownOnSignal(server.close, (line) => process.stderr.write(`tidewire echo: ${line}\n`));
    });
}
