// `tidewire demo`: runs the demo server (page + /echo, /clock, /chat) until SIGINT/SIGTERM.

import { Command } from 'commander';
import { startDemoServer } from './demo-server.js';
import { integerOption } from './integer-option.js';
import { shutdownOnSignal } from './shutdown-on-signal.js';

interface DemoCommandOptions {
  port: number;
  host: string;
}

/** Builds the `demo` subcommand. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('serve the demo page with its /echo, /clock and /chat WebSocket endpoints')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integerOption(0, 65_535), 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 to accept remote browsers)', '127.0.0.1')
    .action(async (options: DemoCommandOptions) => {
      const server = await startDemoServer({ port: options.port, host: options.host });
      process.stdout.write(`tidewire demo listening on ${server.url} (open it in a browser)\n`);
      shutdownOnSignal(server.close, (line) => process.stderr.write(`tidewire demo: ${line}\n`));
    });
}
