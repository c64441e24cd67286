// The interactive client of `tidewire connect` (in the spirit of wscat): stdin lines go out as
// text messages, received messages are printed, `/ping` and `/close` drive control frames.
// Messages go to stdout, connection state to stderr, so `connect … > log` keeps only the data.

import { createInterface, type Interface } from 'node:readline';
import { WebSocket, type CloseEvent } from '../index.js';
import { formatMessage } from './format-message.js';

export interface ConnectOptions {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  deflate: boolean;
}

export interface ConnectIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

const HELP = [
  'type a line to send it as a text message; commands:',
  '  /ping [data]           send a ping, the pong is printed',
  '  /close [code] [reason] close the connection (default 1000)',
  '  //text                 send "/text" (a line starting with a slash)',
  '  /help                  this text',
].join('\n');

/** Runs one session; resolves with the exit code: 0 after a clean close, 1 otherwise. */
export function runConnect(options: ConnectOptions, io: ConnectIo): Promise<number> {
  const interactive = io.stdin.isTTY === true && io.stdout.isTTY === true;
  let rl: Interface | undefined;

  // In a terminal, a message arriving while the user types must not mangle the input line:
  // clear it, print, then redraw the prompt with what was typed so far.
  const print = (stream: NodeJS.WritableStream, line: string): void => {
    if (interactive) io.stdout.write('\r\x1b[K');
    stream.write(`${line}\n`);
    if (interactive) rl?.prompt(true);
  };
  const status = (line: string): void => print(io.stderr, line);

  return new Promise<number>((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.url, options.subprotocols.length > 0 ? options.subprotocols : undefined, {
        headers: options.headers,
        perMessageDeflate: options.deflate,
      });
    } catch (error) {
      status(`error: ${errorMessage(error)}`);
      resolve(1);
      return;
    }
    status(`connecting to ${options.url}`);

    ws.on('open', () => {
      const details = [ws.protocol === '' ? '' : `protocol: ${ws.protocol}`, ws.extensions === '' ? '' : `extensions: ${ws.extensions}`];
      const suffix = details.filter((detail) => detail !== '').join(', ');
      status(`connected${suffix === '' ? '' : ` (${suffix})`}${interactive ? '; /help for commands' : ''}`);
      // stdin is read only once the connection is open: lines piped in earlier wait in the
      // pipe instead of hitting a socket that cannot send yet.
      rl = readLines(ws, io, interactive, print, status);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => print(io.stdout, formatMessage(data, isBinary)));
    ws.on('pong', (data: Buffer) => print(io.stdout, `< [pong]${data.length === 0 ? '' : ` ${data.toString('utf8')}`}`));
    ws.on('error', (error: Error) => status(`error: ${error.message}`));
    // The browser-API close event, for `wasClean`, which the ws-style 'close' does not carry.
    ws.onclose = (event: CloseEvent) => {
      // Stop reading first, so the last status line is not followed by a fresh prompt.
      const lines = rl;
      rl = undefined;
      lines?.close();
      const reason = event.reason === '' ? '' : ` "${event.reason}"`;
      status(`${event.wasClean ? 'closed' : 'disconnected'} (code ${event.code}${reason})`);
      io.stdin.pause();
      resolve(event.wasClean ? 0 : 1);
    };
  });
}

function readLines(
  ws: WebSocket,
  io: ConnectIo,
  interactive: boolean,
  print: (stream: NodeJS.WritableStream, line: string) => void,
  status: (line: string) => void,
): Interface {
  const rl = createInterface({ input: io.stdin, output: interactive ? io.stdout : undefined, terminal: interactive, prompt: '> ' });
  rl.on('line', (line) => {
    try {
      runLine(ws, line, (text) => print(io.stderr, text));
    } catch (error) {
      status(`error: ${errorMessage(error)}`);
    }
    if (interactive) rl.prompt();
  });
  // EOF on stdin (Ctrl-D, or the end of a pipe): finish with a normal closure.
  rl.on('close', () => {
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  });
  // Ctrl-C: a first one closes cleanly, a second one (while closing) drops the connection.
  const interrupt = (): void => {
    if (ws.readyState === WebSocket.OPEN) {
      status('closing (Ctrl-C again to drop the connection)');
      ws.close(1000);
    } else {
      ws.terminate();
    }
  };
  rl.on('SIGINT', interrupt);
  if (!interactive) process.once('SIGINT', interrupt);
  if (interactive) rl.prompt();
  return rl;
}

/** Sends a line, or runs it as a command. Throws the core's errors (bad close code, ping too long …). */
function runLine(ws: WebSocket, line: string, info: (text: string) => void): void {
  if (!line.startsWith('/') || line.startsWith('//')) {
    if (ws.readyState !== WebSocket.OPEN) {
      info('not sent: the connection is not open');
      return;
    }
    ws.send(line.startsWith('//') ? line.slice(1) : line);
    return;
  }
  // "/name rest": the rest is the ping payload, or "code reason words…" for /close.
  const [, command = '', rest = ''] = /^\/(\S*)\s*(.*)$/s.exec(line) ?? [];
  switch (command) {
    case 'ping':
      ws.ping(Buffer.from(rest, 'utf8'));
      return;
    case 'close': {
      const [, code = '', reason = ''] = /^(\S*)\s*(.*)$/s.exec(rest) ?? [];
      if (code === '') {
        ws.close(1000);
      } else if (/^\d+$/.test(code)) {
        ws.close(Number(code), reason);
      } else {
        info(`not a close code: "${code}"`);
      }
      return;
    }
    case 'help':
      info(HELP);
      return;
    default:
      info(`unknown command "/${command}"; /help lists the commands, //text sends "/text"`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
