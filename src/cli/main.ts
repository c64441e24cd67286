#!/usr/bin/env node
// The `tidewire` command line: `echo` (conformance and benchmark target), `connect`
// (interactive client), `demo` (the page and endpoints of `npm start`) and `fuzzing-client`
// (the client side of an Autobahn testsuite run).

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { connectCommand } from './connect-command.js';
import { demoCommand } from './demo-command.js';
import { echoCommand } from './echo-command.js';
import { fuzzingClientCommand } from './fuzzing-client-command.js';
import { serveCommand } from './serve-command.js';
import { tokenCommand } from './token-command.js';

// package.json is outside the build's rootDir, so it is read at run time rather than imported.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('tidewire')
  .description('WebSocket tools: an echo server, an interactive client and a demo server')
  .version(version)
  .addCommand(echoCommand())
  .addCommand(connectCommand())
  .addCommand(demoCommand())
  .addCommand(fuzzingClientCommand())
  .addCommand(serveCommand())
  .addCommand(tokenCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`tidewire: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
