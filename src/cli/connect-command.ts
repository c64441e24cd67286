// `tidewire connect URL`: an interactive WebSocket client; exits 0 after a clean close, 1 otherwise.

import { Command } from 'commander';
import { headerOption } from './header-option.js';
import { runConnect } from './run-connect.js';

interface ConnectCommandOptions {
  header?: Record<string, string>;
  subprotocol?: string[];
  deflate: boolean;
}

/** Builds the `connect` subcommand. */
export function connectCommand(): Command {
  return new Command('connect')
    .description('connect to a WebSocket server; stdin lines are sent as text, messages are printed (/help for commands)')
    .argument('<url>', 'ws://, wss://, http:// or https:// URL')
    // No defaults for the repeatable flags: commander would print "(default: {})" in the help.
    .option('-H, --header <header>', 'extra handshake header "Name: value" (repeatable)', headerOption)
    .option('-s, --subprotocol <protocol>', 'offer a subprotocol (repeatable)', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option('--no-deflate', 'do not offer permessage-deflate')
    .action(async (url: string, options: ConnectCommandOptions) => {
      const code = await runConnect(
        { url, headers: options.header ?? {}, subprotocols: options.subprotocol ?? [], deflate: options.deflate },
        { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
      );
      // Exit once stdout is flushed: a piped consumer must get every printed message.
      process.stdout.write('', () => process.exit(code));
    });
}
