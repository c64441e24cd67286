// Message size limits (RFC 6455 §10.4, close code 1009) and big messages, modelled on Autobahn 9.x:
// a message over maxPayload is refused from its header, before its payload arrives; big messages
// and messages in thousands of tiny fragments are accepted when the limit allows them.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { startEchoServer, useEchoPair, useEchoTarget } from '../helpers/echo-endpoints.js';
import {
  AppRegistry,
  Opcode,
  encodeFrame,
  expectFailure,
  serverTarget,
  withTimeout,
  type RawPeer,
  type Target,
} from '../helpers/raw-peer.js';

const MiB = 1024 * 1024;
const SMALL_LIMIT = 1000;

/** Only the header of a frame announcing `length` bytes: the payload is never sent. */
function headerOnly(peer: RawPeer, opcode: number, length: number | bigint, fin = true): Buffer {
  return encodeFrame({ opcode, fin, declaredLength: length, mask: peer.role === 'client' });
}

function text(size: number): Buffer {
  return Buffer.alloc(size, 'x');
}

/** Cases that must hold on both sides with a 1000-byte limit. */
function smallLimitCases(side: 'server' | 'client', target: () => Target<WebSocket>): void {
  it(`${side} echoes a message of exactly maxPayload bytes`, async () => {
    const { peer } = await target().open();
    await peer.expectEcho(text(SMALL_LIMIT));
    await peer.expectEcho(randomBytes(SMALL_LIMIT), { binary: true, fragmentSizes: [300, 300, 300] });
    await peer.closeHandshake();
  });
  for (const [label, opcode] of [
    ['text', Opcode.TEXT],
    ['binary', Opcode.BINARY],
  ] as const) {
    it(`${side} fails with 1009 on the header of a ${label} frame of maxPayload + 1 bytes, before its payload arrives`, async () => {
      await expectFailure(target(), (peer) => peer.writeRaw(headerOnly(peer, opcode, SMALL_LIMIT + 1)), 1009);
    });
  }
  it(`${side} fails with 1009 on the header of a frame announcing 2^40 bytes`, async () => {
    await expectFailure(target(), (peer) => peer.writeRaw(headerOnly(peer, Opcode.BINARY, 1n << 40n)), 1009);
  });
  it(`${side} fails with 1009 on a message over maxPayload sent whole`, async () => {
    await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.TEXT, payload: text(SMALL_LIMIT + 1) }), 1009);
  });
  it(`${side} fails with 1009 on the header of the fragment that takes a message over maxPayload, before its payload arrives`, async () => {
    await expectFailure(
      target(),
      async (peer) => {
        await peer.writeFrames([
          { opcode: Opcode.TEXT, payload: text(400), fin: false },
          { opcode: Opcode.CONTINUATION, payload: text(400), fin: false },
        ]);
        await peer.writeRaw(headerOnly(peer, Opcode.CONTINUATION, 400));
      },
      1009,
    );
  });
  it(`${side} fails with 1009 on a message over maxPayload in 1-byte fragments`, async () => {
    await expectFailure(target(), (peer) => peer.sendMessage(text(SMALL_LIMIT + 1), { binary: true, fragmentSizes: new Array<number>(SMALL_LIMIT).fill(1) }), 1009);
  });
}

describe('maxPayload of 1000 bytes', { concurrency: true }, () => {
  describe('server side', { concurrency: true }, () => {
    smallLimitCases('server', useEchoTarget('server', { server: { maxPayload: SMALL_LIMIT } }));
  });
  describe('client side', { concurrency: true }, () => {
    smallLimitCases('client', useEchoTarget('client', { client: { maxPayload: SMALL_LIMIT } }));
  });
});

// One at a time: dozens of 4–16 MiB echoes at once only measure the machine.
describe('big messages (Autobahn 9.x)', { concurrency: 1 }, () => {
  const endpoints = useEchoPair({ server: { maxPayload: 16 * MiB }, client: { maxPayload: 16 * MiB } });

  for (const side of ['server', 'client'] as const) {
    const target = (): Target<WebSocket> => endpoints()[side];
    // Autobahn 9.1.x, 9.2.x
    for (const size of [64 * 1024, MiB, 16 * MiB]) {
      for (const binary of [false, true]) {
        it(`${side} echoes a ${binary ? 'binary' : 'text'} message of ${size / 1024} KiB in one frame`, async () => {
          const { peer } = await target().open();
          await peer.expectEcho(binary ? randomBytes(size) : text(size), { binary });
          await peer.closeHandshake();
        });
      }
    }
    // Autobahn 9.3.x, 9.4.x: ws fails these with a fragment-count limit; nothing here may.
    for (const fragment of [64, 4096, 65536, 4 * MiB]) {
      for (const binary of fragment === 64 ? [false, true] : [false]) {
        it(`${side} echoes a 4 MiB ${binary ? 'binary' : 'text'} message in fragments of ${fragment} bytes`, async () => {
          const { peer } = await target().open();
          const data = binary ? randomBytes(4 * MiB) : text(4 * MiB);
          const sizes = new Array<number>(4 * MiB / fragment - 1).fill(fragment);
          const message = await peer.expectEcho(data, { binary, fragmentSizes: sizes });
          assert.equal(message.payload.length, 4 * MiB);
          await peer.closeHandshake();
        });
      }
    }
    // Autobahn 9.5.x, 9.6.x: one frame in TCP chops.
    for (const chop of [1024, 4096]) {
      it(`${side} echoes a 1 MiB message written in ${chop}-byte TCP chops`, async () => {
        const { peer } = await target().open();
        const data = randomBytes(MiB);
        await peer.expectEcho(data, { binary: true, splitInto: new Array<number>(Math.ceil((MiB + 14) / chop)).fill(chop) });
        await peer.closeHandshake();
      });
    }
  }
});

describe('limits of our own', { concurrency: true }, () => {
  it('server fails with 1009 on a message in more fragments than maxFragmentsPerMessage, and accepts one at the limit', async () => {
    const target = await startEchoServer({ limits: { maxFragmentsPerMessage: 10 } });
    try {
      const { peer } = await target.open();
      await peer.expectEcho(text(100), { fragmentSizes: new Array<number>(9).fill(10) }); // 10 fragments
      await peer.closeHandshake();
      await expectFailure(target, (raw) => raw.sendMessage(text(110), { fragmentSizes: new Array<number>(10).fill(10) }), 1009); // 11
    } finally {
      await target.close();
    }
  });

  it('server closes with 1013 a connection whose outbound buffer passes maxBufferedBytes while the client does not read', async () => {
    const apps = new AppRegistry<WebSocket>();
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      heartbeatIntervalMs: 0,
      limits: { maxBufferedBytes: 4 * MiB, highWaterMarkBytes: MiB },
    });
    await once(wss, 'listening');
    const chunk = randomBytes(512 * 1024);
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      ws.on('error', () => {});
      apps.register(req.socket.remotePort, ws);
      ws.on('message', () => {
        for (let i = 0; i < 64 && ws.readyState === WebSocket.OPEN; i++) ws.send(chunk); // 32 MiB, ignoring backpressure
      });
    });
    const target = serverTarget((wss.address() as AddressInfo).port, apps, () => new Promise((resolve) => wss.close(() => resolve())));
    try {
      const { peer, app } = await target.open();
      const ws = await app;
      const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
      peer.socket.pause(); // a slow consumer: nothing is read until the server has given up
      await peer.writeFrame({ opcode: Opcode.TEXT, payload: 'flood me' });
      // No event marks "gave up on this reader" before TCP closes, so watch the state change.
      let check: NodeJS.Timeout | undefined;
      await withTimeout(
        new Promise<void>((resolve) => {
          check = setInterval(() => ws.readyState !== WebSocket.OPEN && resolve(), 5);
        }),
        4000,
        'the server to stop writing to the slow consumer',
      ).finally(() => clearInterval(check));
      peer.socket.resume();
      let received = 0;
      for (;;) {
        const frame = await peer.nextFrame();
        if (frame.opcode === Opcode.CLOSE) {
          assert.equal(frame.payload.readUInt16BE(0), 1013);
          break;
        }
        received += frame.payload.length;
      }
      assert.ok(received < 64 * chunk.length, 'the rest was dropped, not buffered');
      await peer.finishClosingHandshake(1013);
      await withTimeout(closed, 6000, 'the close event');
    } finally {
      await target.close();
    }
  });
});
