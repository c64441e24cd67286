// The realtime fanout benchmark (bench/realtime) as a smoke run: 100 subscribers, 3 messages, one
// run per server. Both servers must deliver every message to every subscriber once and in order.
// No thresholds: CI machines vary.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runRealtimeBench } from '../../bench/realtime/run.js';

describe('bench/realtime smoke', () => {
  for (const client of ['lib', 'raw'] as const) {
    it(`tidewire and Socket.IO both deliver everything (${client} clients)`, { timeout: 30_000 }, async () => {
      const lines: string[] = [];
      const result = await runRealtimeBench({
        subscribers: 100,
        messages: 3,
        runs: 1,
        bytes: 32,
        client,
        pace: 'burst',
        hosts: ['127.0.0.1'],
        timeoutMs: 10_000,
        log: (line) => lines.push(line),
      });
      assert.equal(result.runs.length, 2, lines.join('\n'));
      for (const run of result.runs) {
        assert.equal(run.deliveries, 300, `${run.server}: ${run.deliveries} deliveries\n${lines.join('\n')}`);
        assert.ok(run.complete, `${run.server} incomplete\n${lines.join('\n')}`);
        assert.equal(run.badSubscribers, 0, `${run.server}: ${run.errors.join('; ')}`);
        assert.ok(run.deliveriesPerSecond > 0);
      }
      assert.ok(result.ratio !== null && result.ratio > 0);
    });
  }
});
