// `tidewire serve` and `tidewire token`: the signed tokens, one node in-process (MemoryBroker) over
// real sockets (/healthz, 426/404, token auth 401, Origin 403, TLS, drain then 1001 on close), and
// the command as a child process (ready line, memory warning, SIGTERM → 1001 and exit 0, --auth-module hooks).

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startServeNode, type ServeNodeOptions } from '../../src/cli/serve-server.js';
import { secretAuthenticate } from '../../src/cli/serve-auth.js';
import { TokenSigner } from '../../src/cli/token-signer.js';
import { msgpackCodec, protobufCodec } from '../../src/codecs/index.js';
import { MemoryBroker, RealtimeClient, WebSocket, type SubscribedInfo } from '../../src/index.js';
import { watchOutput } from '../helpers/child-output.js';
import { requireTool } from '../helpers/external-tool.js';
import { cliArgs, REPO_ROOT } from '../helpers/cli-process.js';
import { withTimeout } from '../helpers/with-timeout.js';

const SECRET = 'a-test-secret-of-32-characters!!';

/** A fresh self-signed certificate for 127.0.0.1, or null when openssl is not there. */
function selfSignedCertificate(): { cert: Buffer; key: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-serve-tls-'));
  try {
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return made.status === 0 ? { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) } : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const SUBPROTOCOL = 'tidewire.v1.json';

function node(t: { after(fn: () => Promise<void>): void }, options: Partial<ServeNodeOptions> = {}) {
  const lines: string[] = [];
  const started = startServeNode({
    port: 0, host: '127.0.0.1', path: '/realtime', nodeId: 'test-node', broker: new MemoryBroker(), log: (line) => lines.push(line), ...options,
  });
  t.after(async () => (await started).close());
  return started;
}

/** The HTTP status a handshake was refused with (0: not an HTTP refusal). */
function refusal(url: string, options: { origin?: string } = {}): Promise<number> {
  const ws = new WebSocket(url, [SUBPROTOCOL], options.origin !== undefined ? { origin: options.origin } : {});
  return withTimeout(new Promise<number>((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the handshake was accepted'));
    });
    ws.once('error', (error: Error & { status?: number }) => resolve(error.status ?? 0));
  }), 4000, 'the handshake refusal');
}

/** Opens a raw messaging-layer connection and resolves once it is open. */
async function openSession(url: string, options: { origin?: string; ca?: Buffer } = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, [SUBPROTOCOL], options);
  await withTimeout(once(ws, 'open'), 4000, `open ${url}`);
  return ws;
}

describe('TokenSigner (the --auth-secret token format)', () => {
  const signer = new TokenSigner(SECRET);

  test('a token is "<userId>.<base64url HMAC-SHA256(secret, userId)>" and verifies to its user', () => {
    const token = signer.sign('alice');
    assert.equal(token, `alice.${createHmac('sha256', SECRET).update('alice').digest('base64url')}`);
    assert.equal(signer.verify(token), 'alice');
  });

  test('a wrong, truncated, padded, re-signed or missing token verifies to null', () => {
    const token = signer.sign('alice');
    const [, signature = ''] = token.split('.');
    assert.equal(signer.verify(`bob.${signature}`), null);
    assert.equal(signer.verify(token.slice(0, -1)), null);
    assert.equal(signer.verify(`${token}=`), null);
    assert.equal(signer.verify(`${token}!`), null);
    assert.equal(signer.verify(new TokenSigner(`${SECRET}x`).sign('alice')), null);
    assert.equal(signer.verify('alice'), null);
    assert.equal(signer.verify(''), null);
    assert.equal(signer.verify(undefined), null);
  });

  test('refuses a short secret and user ids the format cannot carry', () => {
    assert.throws(() => new TokenSigner('short'), RangeError);
    for (const userId of ['', 'a.b', 'a b', 'x'.repeat(201)]) assert.throws(() => signer.sign(userId), RangeError, userId);
  });
});

describe('startServeNode (in-process, MemoryBroker)', () => {
  test('/healthz answers 200 with the node id and session count; the WebSocket path 426 over plain HTTP; others 404', async (t) => {
    const served = await node(t);
    const health = await fetch(served.healthUrl);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok test-node sessions=0\n');
    const ws = await openSession(served.url);
    t.after(() => ws.terminate());
    assert.match(await (await fetch(served.healthUrl)).text(), /sessions=1/);
    const base = served.healthUrl.replace('/healthz', '');
    assert.equal((await fetch(`${base}/realtime`)).status, 426);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });

  test('with a secret: a signed token opens a session as its user, a bad or missing one gets 401', async (t) => {
    const served = await node(t, { authenticate: secretAuthenticate(SECRET) });
    assert.equal(await refusal(served.url), 401);
    assert.equal(await refusal(`${served.url}?token=${encodeURIComponent(new TokenSigner(`${SECRET}-other`).sign('mallory'))}`), 401);
    const client = new RealtimeClient(served.url, { WebSocket, token: new TokenSigner(SECRET).sign('alice') });
    t.after(() => client.close());
    const subscribed = new Promise<SubscribedInfo>((resolve) => client.subscribe('room').on('subscribed', resolve));
    await withTimeout(subscribed, 4000, 'the subscription');
    assert.equal(client.state, 'connected');
  });

  test('offers every codec: a MessagePack and a Protobuf client each get their publication back', async (t) => {
    const served = await node(t);
    for (const codec of [msgpackCodec, protobufCodec]) {
      const client = new RealtimeClient<{ room: { text: string } }>(served.url, { WebSocket, codec });
      t.after(() => client.close());
      const subscription = client.subscribe('room');
      const received = new Promise<{ text: string }>((resolve) => subscription.on('publication', resolve));
      await withTimeout(new Promise((resolve) => subscription.on('subscribed', resolve)), 4000, `the ${codec.name} subscription`);
      await client.publish('room', { text: codec.name });
      assert.deepEqual(await withTimeout(received, 4000, `the ${codec.name} publication`), { text: codec.name });
    }
  });

  test('an Origin outside the allowlist gets 403; a listed one connects', async (t) => {
    const served = await node(t, { allowedOrigins: ['https://chat.example'] });
    assert.equal(await refusal(served.url, { origin: 'https://evil.example' }), 403);
    (await openSession(served.url, { origin: 'https://chat.example' })).terminate();
  });

  test('with a certificate it serves https and wss', async (t) => {
    const credentials = selfSignedCertificate();
    if (!(await requireTool(t, 'openssl', () => credentials !== null, 'apt-get install openssl (to make a self-signed certificate)'))) return;
    const served = await node(t, { tls: credentials! });
    assert.match(served.url, /^wss:\/\/127\.0\.0\.1:\d+\/realtime$/);
    assert.match(served.healthUrl, /^https:\/\//);
    const ws = await openSession(served.url, { ca: credentials!.cert });
    ws.terminate();
  });

  test('close(): /healthz turns 503 during the drain, then sessions get 1001 and the port closes', async (t) => {
    const served = await node(t, { drainMs: 300 });
    const ws = await openSession(served.url);
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    const closing = served.close();
    const health = await fetch(served.healthUrl);
    assert.equal(health.status, 503);
    assert.equal(await health.text(), 'shutting down test-node\n');
    assert.equal(ws.readyState, WebSocket.OPEN, 'sessions keep going while the node drains');
    const [code] = await withTimeout(closed, 4000, 'the 1001 close');
    assert.equal(code, 1001);
    await withTimeout(closing, 4000, 'close()');
    await assert.rejects(fetch(served.healthUrl));
  });
});

describe('tidewire serve / tidewire token (child processes)', () => {
  test('serve prints its ready line and the single-node warning; on SIGTERM its sessions get 1001 and it exits 0', async () => {
    const child = spawn(process.execPath, cliArgs('serve', '--port', '0', '--node-id', 'cli-node'), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = watchOutput(child);
    const exited = once(child, 'exit');
    try {
      const [, url] = await withTimeout(output.printed(/tidewire serve listening on (\S+) \(broker: memory, node: cli-node\)\n/), 20_000, 'the ready line');
      assert.match(output.stderr(), /\[cli-node\]: warning: no --redis/);
      const ws = await openSession(url!);
      const closed = once(ws, 'close') as Promise<[number, Buffer]>;
      child.kill('SIGTERM');
      assert.equal((await withTimeout(closed, 5000, 'the 1001 close'))[0], 1001);
      assert.deepEqual(await withTimeout(exited, 5000, 'the exit'), [0, null]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('serve --auth-module: its authenticate refuses with 401, its canPublish answers FORBIDDEN; a module without hooks, with a non-function hook or missing exits 1', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-auth-module-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(hooks, [
      "export const authenticate = (req, token) => (token === 'let-me-in' ? { userId: 'operator' } : null);",
      "export const canPublish = (session, channel) => session.userId === 'operator' && channel.startsWith('ok:');",
    ].join('\n'));
    const child = spawn(process.execPath, cliArgs('serve', '--port', '0', '--auth-module', hooks), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => void child.kill('SIGKILL'));
    const [, url] = await withTimeout(watchOutput(child).printed(/tidewire serve listening on (\S+) /), 20_000, 'the ready line');
    assert.equal(await refusal(`${url}?token=wrong`), 401);
    const client = new RealtimeClient(url!, { WebSocket, token: 'let-me-in' });
    t.after(() => client.close());
    assert.equal((await withTimeout(client.publish('ok:room', 'hello'), 4000, 'the allowed publish')).offset, 1);
    await assert.rejects(client.publish('other', 'no'), { code: 'FORBIDDEN' });

    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const unrelated = 1;\n');
    const run = promisify(execFile);
    await assert.rejects(run(process.execPath, cliArgs('serve', '--port', '0', '--auth-module', empty), { cwd: REPO_ROOT }), /exports none of authenticate, canSubscribe, canPublish/);
    const wrongType = join(dir, 'wrong-type.mjs');
    writeFileSync(wrongType, "export const canPublish = 'yes';\n");
    await assert.rejects(run(process.execPath, cliArgs('serve', '--port', '0', '--auth-module', wrongType), { cwd: REPO_ROOT }), /export "canPublish" is a string, not a function/);
    await assert.rejects(run(process.execPath, cliArgs('serve', '--port', '0', '--auth-module', join(dir, 'missing.mjs')), { cwd: REPO_ROOT }), /could not be loaded/);
  });

  test('token mints what serve --auth-secret accepts; a bad secret exits 1', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, cliArgs('token', '--secret', SECRET, '--user', 'alice'), { cwd: REPO_ROOT });
    assert.equal(new TokenSigner(SECRET).verify(stdout.trim()), 'alice');
    await assert.rejects(run(process.execPath, cliArgs('token', '--secret', 'short', '--user', 'alice'), { cwd: REPO_ROOT }), /at least 16 characters/);
  });
});
