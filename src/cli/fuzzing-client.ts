// Drives the tidewire WebSocket client through an Autobahn fuzzingserver: ask how many cases
// there are, run each one (echoing every message back, text as text, binary as binary), then
// ask the server to write its reports.

import { WebSocket } from '../index.js';

export interface FuzzingClientOptions {
  /** The fuzzingserver, e.g. ws://127.0.0.1:9001 */
  url: string;
  agent: string;
  maxMessageBytes: number;
  log: (line: string) => void;
}

/** Runs every case; resolves with how many were run. */
export async function runFuzzingClient(options: FuzzingClientOptions): Promise<number> {
  const base = options.url.replace(/\/+$/, '');
  const count = Number(await receiveOne(`${base}/getCaseCount`, options.maxMessageBytes));
  if (!Number.isInteger(count) || count < 0) throw new Error(`The fuzzingserver answered a case count of "${count}"`);
  for (let caseNumber = 1; caseNumber <= count; caseNumber++) {
    const code = await echoUntilClosed(`${base}/runCase?case=${caseNumber}&agent=${encodeURIComponent(options.agent)}`, options.maxMessageBytes);
    options.log(`case ${caseNumber}/${count} closed with ${code}`);
  }
  await echoUntilClosed(`${base}/updateReports?agent=${encodeURIComponent(options.agent)}`, options.maxMessageBytes);
  return count;
}

function receiveOne(url: string, maxPayload: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, undefined, { maxPayload });
    let answer: string | undefined;
    ws.on('message', (data: Buffer) => (answer ??= data.toString('utf8')));
    ws.on('close', () => (answer === undefined ? reject(new Error(`No answer from ${url}`)) : resolve(answer)));
    ws.on('error', () => {}); // the close event that follows settles the promise
  });
}

function echoUntilClosed(url: string, maxPayload: number): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, undefined, { maxPayload });
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code: number) => resolve(code));
    ws.on('error', () => {});
  });
}
