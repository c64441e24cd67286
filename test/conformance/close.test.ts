// RFC 6455 §5.5.1, §7 closing, modelled on Autobahn 7.x: close codes and reasons, what follows a
// close frame, who closes TCP (the server, §7.1.1) and the close timeouts of both sides.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { startEchoClientTarget, startEchoServer, startEchoTarget } from '../helpers/echo-endpoints.js';
import { Opcode, closePayload, expectFailure, forBothSides, hex, withTimeout } from '../helpers/raw-peer.js';

interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean | undefined;
}

/** What each application object saw at its close, recorded from its creation on so nothing is missed. */
const closeInfo = new WeakMap<WebSocket, Promise<CloseInfo>>();

function recordClose(ws: WebSocket): void {
  let wasClean: boolean | undefined;
  ws.addEventListener('close', (event) => {
    wasClean = (event as CloseEvent).wasClean;
  });
  closeInfo.set(
    ws,
    new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        // The WHATWG listener runs in the same dispatch, before or after this one.
        setImmediate(() => resolve({ code, reason: reason.toString(), wasClean }));
      });
    }),
  );
}

async function closeOf(app: Promise<WebSocket>): Promise<CloseInfo> {
  return withTimeout(closeInfo.get(await app)!, 4000, 'the close event of the application');
}

/** The application object once it is OPEN (a client learns of the 101 a moment after we sent it). */
async function openApp(app: Promise<WebSocket>): Promise<WebSocket> {
  const ws = await app;
  if (ws.readyState === WebSocket.CONNECTING) await withTimeout(once(ws, 'open'), 4000, 'the open event');
  return ws;
}

const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

forBothSides(
  (side) => startEchoTarget(side, { onEndpoint: recordClose }),
  (side, target) => {
    // Autobahn 7.3.1
    it(`${side} answers a close frame without payload with an empty close frame and reports 1005`, async () => {
      const { peer, app } = await target().open();
      await peer.writeFrame({ opcode: Opcode.CLOSE });
      const close = await peer.expectClose('none');
      assert.deepEqual(close.skipped, []);
      await peer.endAfterClose();
      const seen = await closeOf(app);
      assert.equal(seen.code, 1005);
      assert.equal(seen.reason, '');
    });
    // Autobahn 7.3.3–7.3.5
    for (const reason of ['', 'bye bye', 'r'.repeat(123)]) {
      it(`${side} echoes close code 1000 with a ${reason.length}-byte reason and reports code and reason`, async () => {
        const { peer, app } = await target().open();
        await peer.closeHandshake(1000, reason);
        const seen = await closeOf(app);
        assert.equal(seen.code, 1000);
        assert.equal(seen.reason, reason);
        assert.equal(seen.wasClean, true);
      });
    }
    // Autobahn 7.3.2
    it(`${side} fails with 1002 on a close frame with a 1-byte payload`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: hex('03') }), 1002);
    });
    // Autobahn 7.3.6
    it(`${side} fails with 1002 on a close frame with a 124-byte reason`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'r'.repeat(124)) }), 1002);
    });
    // Autobahn 7.9.x, 7.13.x
    for (const code of INVALID_CODES) {
      it(`${side} fails with 1002 on close code ${code}`, async () => {
        await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(code) }), 1002);
      });
    }
    // Autobahn 7.7.x
    for (const code of VALID_CODES) {
      it(`${side} echoes close code ${code} and reports it`, async () => {
        const { peer, app } = await target().open();
        await peer.closeHandshake(code);
        assert.equal((await closeOf(app)).code, code);
      });
    }
    // Autobahn 7.5.1
    it(`${side} fails with 1007 on a close reason that is not valid UTF-8`, async () => {
      await expectFailure(
        target(),
        (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: Buffer.concat([closePayload(1000), hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')]) }),
        1007,
      );
    });
    it(`${side} fails with 1007 on a close reason truncated inside a character`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: Buffer.concat([closePayload(1000), hex('61 e2 82')]) }), 1007);
    });

    // Autobahn 7.1.1
    it(`${side} echoes a message, then completes a close handshake`, async () => {
      const { peer } = await target().open();
      await peer.expectEcho('Hello World!');
      await peer.closeHandshake(1000);
    });
    // Autobahn 7.1.2–7.1.4: nothing is answered after the close frame.
    it(`${side} ignores a second close, a text and a ping sent after a close frame`, async () => {
      await target().isolate(async () => {
        const { peer } = await target().open();
        await peer.writeFrames([
          { opcode: Opcode.CLOSE, payload: closePayload(1000) },
          { opcode: Opcode.CLOSE, payload: closePayload(1001) },
          { opcode: Opcode.TEXT, payload: 'after close' },
          { opcode: Opcode.PING, payload: 'after close' },
        ]);
        const close = await peer.expectClose(1000);
        assert.deepEqual(close.skipped, []);
        await peer.endAfterClose(); // our close frame was the first one
      });
    });
    // Autobahn 7.1.5: an open fragmented message is dropped at the close.
    it(`${side} answers a close frame between fragments and never delivers the message`, async () => {
      const { peer, app } = await target().open();
      await peer.writeFrames([
        { opcode: Opcode.TEXT, payload: 'fragment1', fin: false },
        { opcode: Opcode.CLOSE, payload: closePayload(1000) },
        { opcode: Opcode.CONTINUATION, payload: 'fragment2', fin: true },
      ]);
      const close = await peer.expectClose(1000);
      assert.deepEqual(close.skipped, []);
      await peer.endAfterClose();
      assert.equal((await closeOf(app)).code, 1000);
    });
    // Autobahn 7.1.6: a big message, a close and a ping in one write.
    it(`${side} may echo a 256 KiB message before a close sent right after it, and never answers the ping after the close`, async () => {
      const { peer } = await target().open();
      const big = Buffer.alloc(256 * 1024, 'B');
      await peer.writeFrames([
        { opcode: Opcode.TEXT, payload: big },
        { opcode: Opcode.CLOSE, payload: closePayload(1000) },
        { opcode: Opcode.PING, payload: 'ping' },
      ]);
      const close = await peer.expectClose(1000);
      for (const frame of close.skipped) {
        assert.equal(frame.opcode, Opcode.TEXT, 'only the echo may precede the close');
      }
      await peer.endAfterClose();
    });

    it(`${side} application starts a closing handshake with its code and reason, completed by the peer`, async () => {
      const { peer, app } = await target().open();
      (await openApp(app)).close(4000, 'app reason');
      const close = await peer.expectClose(4000);
      assert.equal(close.reason.toString(), 'app reason');
      await peer.finishClosingHandshake(4000);
      const seen = await closeOf(app);
      assert.equal(seen.code, 4000);
      assert.equal(seen.wasClean, true);
    });
    it(`${side} sends one close frame only when both sides close at the same time`, async () => {
      const { peer, app } = await target().open();
      const ws = await openApp(app);
      // Both close frames cross on the wire: neither side answers the other's.
      await peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(3002) });
      ws.close(3001);
      const close = await peer.expectClose();
      assert.deepEqual(close.skipped, []);
      assert.ok(close.code === 3001 || close.code === 3002, `close code ${close.code}`);
      // Whichever went first, a second close frame would show up here as bytes before the TCP close.
      await peer.endAfterClose();
      assert.ok([3001, 3002].includes((await closeOf(app)).code));
    });
    it(`${side} reports 1006 when the peer drops TCP without a close frame`, async () => {
      const { peer, app } = await target().open();
      await peer.expectEcho('hello');
      peer.destroy();
      const seen = await closeOf(app);
      assert.equal(seen.code, 1006);
      assert.equal(seen.wasClean, false);
    });
  },
);

describe('closing TCP and close timeouts', { concurrency: true }, () => {
  it('server closes TCP right after the closing handshake, without waiting for the client (RFC 6455 §7.1.1)', async () => {
    const target = await startEchoServer({}, recordClose);
    try {
      const { peer } = await target.open();
      await peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000) });
      await peer.expectClose(1000);
      const started = Date.now();
      await peer.waitForTcpClose(1000); // we never close our side first
      assert.ok(Date.now() - started < 1000);
    } finally {
      await target.close();
    }
  });

  it('server closes TCP after closeTimeoutMs when the client never answers its close frame', async () => {
    const target = await startEchoServer({ limits: { closeTimeoutMs: 300 } }, recordClose);
    try {
      const { peer, app } = await target.open();
      (await openApp(app)).close(1000, 'bye');
      await peer.expectClose(1000);
      const started = Date.now();
      await peer.waitForTcpClose(3000); // we never answer
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2000, `TCP closed after ${elapsed} ms`);
      const seen = await closeOf(app);
      assert.equal(seen.code, 1006);
      assert.equal(seen.wasClean, false);
    } finally {
      await target.close();
    }
  });

  it('server drops TCP after failing a connection whose client never answers the close frame (RFC 6455 §7.1.7)', async () => {
    const target = await startEchoServer({ limits: { closeTimeoutMs: 300 } }, recordClose);
    try {
      const { peer } = await target.open();
      await peer.writeFrame({ opcode: Opcode.TEXT, payload: 'unmasked', mask: false });
      await peer.expectClose(1002);
      await peer.waitForTcpClose(2000); // we never answer
    } finally {
      await target.close();
    }
  });

  it('client drops TCP after failing a connection whose server never answers the close frame (RFC 6455 §7.1.7)', async () => {
    const target = await startEchoClientTarget({ limits: { closeTimeoutMs: 300 } }, recordClose);
    try {
      const { peer, app } = await target.open();
      await peer.writeFrame({ opcode: Opcode.TEXT, payload: 'masked', mask: true });
      await peer.expectClose(1002);
      await peer.waitForTcpClose(2000); // we never answer
      const seen = await closeOf(app);
      assert.equal(seen.wasClean, false);
    } finally {
      await target.close();
    }
  });

  it('client waits for the server to close TCP after the closing handshake it started', async () => {
    const target = await startEchoClientTarget({ limits: { closeTimeoutMs: 3000 } }, recordClose);
    try {
      const { peer, app } = await target.open();
      (await openApp(app)).close(1000, 'done');
      const close = await peer.expectClose(1000);
      assert.equal(close.reason.toString(), 'done');
      assert.ok(close.frame.masked);
      await peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000) });
      // The client must leave TCP to the server (RFC 6455 §7.1.1): no FIN from it for a while.
      await assert.rejects(peer.reader.waitForEnd(200), /timed out/);
      peer.socket.end();
      const seen = await closeOf(app);
      assert.equal(seen.code, 1000);
      assert.equal(seen.wasClean, true);
      assert.equal((await app).readyState, WebSocket.CLOSED);
    } finally {
      await target.close();
    }
  });

  it('client waits for the server to close TCP after answering the server close, then gives up after closeTimeoutMs', async () => {
    const target = await startEchoClientTarget({ limits: { closeTimeoutMs: 400 } }, recordClose);
    try {
      const { peer, app } = await target.open();
      await peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000) });
      await peer.expectClose(1000);
      const started = Date.now();
      await peer.waitForTcpClose(3000); // we keep TCP open
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 300 && elapsed < 2000, `the client dropped TCP after ${elapsed} ms`);
      assert.equal((await closeOf(app)).code, 1000);
    } finally {
      await target.close();
    }
  });

  it('client drops TCP after closeTimeoutMs when the server never answers its close frame, and reports 1006', async () => {
    const target = await startEchoClientTarget({ limits: { closeTimeoutMs: 300 } }, recordClose);
    try {
      const { peer, app } = await target.open();
      (await openApp(app)).close(3001);
      await peer.expectClose(3001);
      const started = Date.now();
      await peer.waitForTcpClose(3000); // we never answer
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2000, `the client dropped TCP after ${elapsed} ms`);
      const seen = await closeOf(app);
      assert.equal(seen.code, 1006);
      assert.equal(seen.wasClean, false);
      assert.equal((await app).readyState, WebSocket.CLOSED);
    } finally {
      await target.close();
    }
  });

  it('client completes a close handshake while a large message is still being received', async () => {
    const target = await startEchoClientTarget({}, recordClose);
    try {
      const { peer, app } = await target.open();
      await peer.writeFrames([
        { opcode: Opcode.BINARY, payload: randomBytes(200_000) },
        { opcode: Opcode.CLOSE, payload: closePayload(1000) },
      ]);
      const close = await peer.expectClose(1000);
      assert.ok(close.skipped.every((frame) => frame.opcode === Opcode.BINARY));
      await peer.endAfterClose();
      assert.equal((await closeOf(app)).wasClean, true);
    } finally {
      await target.close();
    }
  });
});
