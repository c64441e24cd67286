// wss:// end to end: a self-signed certificate made at test time with openssl, an https server
// shared by a WebSocketServer, and the client trusting it through `ca`, or refusing it by default.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer, type VerifyInfo } from '../../src/index.js';
import { requireTool } from '../helpers/external-tool.js';
import { closeOf, connectionsOf, messagesOf, type Accepted, type Inbox } from './support/events.js';
import { newClient, openClient, stopServer } from './support/servers.js';

interface Credentials {
  key: Buffer;
  cert: Buffer;
}

/** A fresh self-signed certificate for CN=localhost, or null when openssl is not there. */
function makeCertificate(): Credentials | null {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WebSocket over TLS', () => {
  const credentials = makeCertificate();
  let server: https.Server;
  let wss: WebSocketServer;
  let connections: Inbox<Accepted>;
  let port = 0;
  const verified: VerifyInfo[] = [];

  before(async () => {
    if (credentials === null) return;
    server = https.createServer({ key: credentials.key, cert: credentials.cert });
    wss = new WebSocketServer({
      server,
      verifyClient: (info) => {
        verified.push(info);
        return true;
      },
    });
    connections = connectionsOf(wss);
    wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
    await new Promise<void>((resolve) => server.listen(0, resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    if (credentials === null) return;
    await stopServer(wss);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function needOpenssl(t: TestContext): Promise<boolean> {
    return requireTool(t, 'openssl', () => credentials !== null, 'apt-get install openssl (needed to make a self-signed certificate)');
  }

  test('client over wss:// with the certificate as ca round-trips text and binary', async (t) => {
    if (!(await needOpenssl(t))) return;
    const client = await openClient(t, `wss://localhost:${port}/secure?x=1`, undefined, { ca: credentials!.cert });
    assert.equal(client.url, `wss://localhost:${port}/secure?x=1`);
    const { ws: serverSide, req } = await connections.next();
    assert.equal((req.socket as { encrypted?: boolean }).encrypted, true);
    assert.equal(verified.at(-1)?.secure, true);
    assert.match(serverSide.url, /^wss:\/\//);

    const inbox = messagesOf(client);
    const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const big = Buffer.alloc(256 * 1024, 0x5a);
    client.send('héllo over TLS');
    client.send(binary);
    client.send(big);
    const [text, bin, large] = await inbox.take(3);
    assert.deepEqual([text!.data.toString(), text!.isBinary], ['héllo over TLS', false]);
    assert.deepEqual([bin!.data, bin!.isBinary], [binary, true]);
    assert.ok(large!.data.equals(big));

    const closed = closeOf(client);
    client.close(1000);
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1000, true]);
  });

  test('client given an https: URL connects over TLS as wss:', async (t) => {
    if (!(await needOpenssl(t))) return;
    const client = await openClient(t, `https://localhost:${port}/`, undefined, { ca: credentials!.cert });
    assert.equal(client.url, `wss://localhost:${port}/`);
    const inbox = messagesOf(client);
    client.send('via https:');
    assert.equal((await inbox.next()).data.toString(), 'via https:');
  });

  test('client rejects a self-signed certificate by default: error then close 1006', async (t) => {
    if (!(await needOpenssl(t))) return;
    const client = newClient(t, `wss://localhost:${port}/`);
    const order: string[] = [];
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    client.addEventListener('error', () => order.push('error'));
    client.addEventListener('open', () => order.push('open'));
    const close = await closeOf(client, 'close after the TLS failure');
    order.push('close');
    assert.deepEqual(order, ['error', 'close']);
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    assert.match(String((errors[0] as NodeJS.ErrnoException).code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });

  test('client with rejectUnauthorized false accepts the self-signed certificate', async (t) => {
    if (!(await needOpenssl(t))) return;
    const client = await openClient(t, `wss://127.0.0.1:${port}/`, undefined, { rejectUnauthorized: false });
    const inbox = messagesOf(client);
    client.send(Buffer.from([1, 2, 3]));
    assert.deepEqual((await inbox.next()).data, Buffer.from([1, 2, 3]));
  });
});
