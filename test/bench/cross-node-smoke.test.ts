// The cross-node fan-out benchmark (bench/cross-node) as a smoke run: 20 subscribers, 5 messages,
// one run per scenario (three `tidewire serve --redis` nodes, then one MemoryBroker node). Both
// must deliver every message to every subscriber once and in order. No thresholds: machines vary.
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379): skipped loudly without it, fails with CI=true.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrossNodeBench } from '../../bench/cross-node/run.js';
import { requireTool } from '../helpers/external-tool.js';
import { REDIS_URL, redisAnswers } from '../brokers/redis-test-support.js';

describe('bench/cross-node smoke', () => {
  it('cross-node and single-node both deliver everything', { timeout: 30_000 }, async (t) => {
    if (!(await requireTool(t, 'Redis', () => redisAnswers(REDIS_URL), `start redis-server on ${REDIS_URL} (apt-get install redis-server), or set REDIS_URL`))) return;
    const lines: string[] = [];
    const result = await runCrossNodeBench({
      subscribers: 20,
      messages: 5,
      runs: 1,
      redisUrl: REDIS_URL,
      timeoutMs: 10_000,
      log: (line) => lines.push(line),
    });
    assert.equal(result.runs.length, 2, lines.join('\n'));
    for (const run of result.runs) {
      assert.equal(run.deliveries, 100, `${run.scenario}: ${run.deliveries} deliveries\n${lines.join('\n')}`);
      assert.ok(run.complete, `${run.scenario} incomplete: ${run.errors.join('; ')}\n${lines.join('\n')}`);
      assert.equal(run.badSubscribers, 0, `${run.scenario}: ${run.errors.join('; ')}`);
      assert.deepEqual(run.errors, [], run.scenario);
      assert.ok(run.deliveriesPerSecond > 0);
      assert.ok(run.latencyMs.p50 >= 0 && run.latencyMs.max >= run.latencyMs.p99);
    }
    assert.ok(result.ratio > 0);
  });
});
