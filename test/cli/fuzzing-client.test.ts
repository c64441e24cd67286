// The fuzzing-client speaks the fuzzingserver's URL protocol: a WebSocketServer here plays the
// three endpoints the way Autobahn does (a case sends messages and checks the echoes).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/index.js';
import { runFuzzingClient } from '../../src/cli/fuzzing-client.js';

describe('fuzzing-client', () => {
  it('client asks the case count, echoes every case (text as text, binary as binary) and updates the reports', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatIntervalMs: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const seen: string[] = [];
    const echoes: { caseNumber: string; text: string; binary: boolean }[] = [];
    wss.on('connection', (ws, req) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url.pathname + url.search);
      if (url.pathname === '/getCaseCount') return void ws.send('2', () => ws.close(1000));
      if (url.pathname === '/updateReports') return void ws.close(1000);
      const caseNumber = url.searchParams.get('case') ?? '';
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        echoes.push({ caseNumber, text: data.toString(), binary: isBinary });
        if (echoes.filter((echo) => echo.caseNumber === caseNumber).length === 2) ws.close(1000);
      });
      ws.send(`text ${caseNumber}`);
      ws.send(Buffer.from(`binary ${caseNumber}`));
    });
    const log: string[] = [];
    const count = await runFuzzingClient({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, agent: 'tw test', maxMessageBytes: 1 << 20, log: (line) => log.push(line) });
    await new Promise((resolve) => wss.close(resolve));
    assert.equal(count, 2);
    assert.deepEqual(seen, ['/getCaseCount', '/runCase?case=1&agent=tw%20test', '/runCase?case=2&agent=tw%20test', '/updateReports?agent=tw%20test']);
    assert.deepEqual(echoes, [
      { caseNumber: '1', text: 'text 1', binary: false },
      { caseNumber: '1', text: 'binary 1', binary: true },
      { caseNumber: '2', text: 'text 2', binary: false },
      { caseNumber: '2', text: 'binary 2', binary: true },
    ]);
    assert.deepEqual(log, ['case 1/2 closed with 1000', 'case 2/2 closed with 1000']);
  });
});
