// The chat page in a real browser: headless Debian Chromium (playwright-core) opens web/chat.html
// twice from the demo server (in-process). Page A reaches /realtime through a TCP proxy the test
// controls, page B directly. Both chat in one room; the test cuts A's connection, both write during
// the cut (A's messages show as pending), A reconnects, and at the end both pages show every
// message exactly once, in the same order, and A's messages are marked delivered. A second test
// floods the room past its history during a cut: the page says so and reloads the history. A third
// takes the browser offline and back: the page reconnects at once, not when its backoff is due.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, requireChromium } from '../helpers/chromium.js';
import { CHAT_HISTORY_SIZE } from '../../src/cli/chat-realtime.js';
import { startDemoServer, type DemoServer } from '../../src/cli/demo-server.js';
import { RealtimeClient, WebSocket } from '../../src/index.js';
import { TcpProxy } from './tcp-proxy.js';

const BUNDLE = fileURLToPath(new URL('../../dist/browser/tidewire-realtime.min.js', import.meta.url));
const ROOM = 'e2e-room';
/** How long A stays cut off (its client keeps retrying against the refusing proxy meanwhile). */
const CUT_MS = 3_000;
const WAIT_MS = 10_000;
/** The page retries at most 5 s apart; allow for that plus the handshake. */
const RECONNECT_WAIT_MS = 12_000;

interface ShownMessage {
  from: string;
  text: string;
  status: string | null;
  offset: string | null;
}

function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.$$eval('.messages .message', (items) =>
    items.map((item) => {
      const data = (item as HTMLElement).dataset;
      return { from: data.from ?? '', text: item.querySelector('.text')?.textContent ?? '', status: data.status ?? null, offset: data.offset ?? null };
    }),
  );
}

function badgeState(page: Page): Promise<string | undefined> {
  return page.$eval('.badge', (badge) => (badge as HTMLElement).dataset.state);
}

async function waitForBadge(page: Page, state: string, timeoutMs = WAIT_MS): Promise<void> {
  await page.waitForFunction((wanted) => (document.querySelector('.badge') as HTMLElement | null)?.dataset.state === wanted, state, { timeout: timeoutMs });
}

/** Waits until the page lists exactly these people in the room. */
async function waitForPresence(page: Page, names: string[]): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const shown = [...document.querySelectorAll<HTMLElement>('.presence .person')].map((item) => item.dataset.name ?? '').sort();
      return JSON.stringify(shown) === JSON.stringify([...wanted].sort());
    },
    names,
    { timeout: WAIT_MS },
  );
}

/** Waits until the page shows `texts` (in any order, each at least once) and none of them pending. */
async function waitForMessages(page: Page, texts: string[], timeoutMs = WAIT_MS): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const items = [...document.querySelectorAll<HTMLElement>('.messages .message')];
      const done = items.filter((item) => item.dataset.status !== 'pending').map((item) => item.querySelector('.text')?.textContent ?? '');
      return wanted.every((text) => done.includes(text));
    },
    texts,
    { timeout: timeoutMs },
  );
}

/** On a failure: what each page showed, for the log. */
async function screenshotsOnFailure(t: { diagnostic(message: string): void }, outDir: string, pages: Record<string, Page>, errors: string[]): Promise<void> {
  for (const [name, page] of Object.entries(pages)) {
    const path = join(outDir, `failed-page-${name}.png`);
    await page.screenshot({ path }).then(() => t.diagnostic(`page ${name} at the failure: ${path}`), () => {});
  }
  if (errors.length > 0) t.diagnostic(`page errors: ${errors.join(' | ')}`);
}

/** Types a message into the composer and sends it with Enter, as a person would. */
async function say(page: Page, text: string): Promise<void> {
  const input = page.locator('.composer input[name="text"]');
  await input.fill(text);
  await input.press('Enter');
}

interface ChatScenario {
  server: DemoServer;
  /** Between page A and the server's /realtime, for cutting A off. */
  proxy: TcpProxy;
  browser: Browser;
  outDir: string;
  /** The pages to screenshot if the test fails, by name. */
  pages: Record<string, Page>;
  pageErrors: string[];
}

/** Runs `scenario` against a demo server, a proxy to it and Chromium; on a failure, screenshots of the pages; closes all. */
async function chatScenario(t: TestContext, scenario: (setup: ChatScenario) => Promise<void>): Promise<void> {
  if (!(await requireChromium(t))) return;
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run \`npm run build\` first`);
  const outDir = mkdtempSync(join(tmpdir(), 'tidewire-chat-e2e-'));
  const pages: Record<string, Page> = {};
  const pageErrors: string[] = [];
  let server: DemoServer | undefined;
  let proxy: TcpProxy | undefined;
  let browser: Browser | undefined;
  try {
    server = await startDemoServer({ port: 0 });
    proxy = await TcpProxy.start(Number(new URL(server.url).port));
    browser = await launchChromium();
    await scenario({ server, proxy, browser, outDir, pages, pageErrors });
  } catch (error) {
    await screenshotsOnFailure(t, outDir, pages, pageErrors);
    throw error;
  } finally {
    await browser?.close();
    await proxy?.close();
    await server?.close();
  }
}

test('chat page: two browsers chat through a cut of one connection; nothing sent during the cut is lost or doubled', (t) =>
  chatScenario(t, async ({ server, proxy, browser, outDir, pages, pageErrors }) => {
    // Two contexts: two separate browsers as far as storage goes.
    const open = async (name: string, realtime?: string): Promise<Page> => {
      const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
      page.on('console', (message) => {
        // Chromium logs each refused WebSocket attempt during the cut: that one is expected.
        if (message.type() === 'error' && !message.text().includes('WebSocket connection to')) pageErrors.push(`${name} console: ${message.text()}`);
      });
      const query = new URLSearchParams({ name, room: ROOM, ...(realtime !== undefined ? { realtime } : {}) });
      await page.goto(`${server.url}/chat.html?${query.toString()}`);
      return page;
    };
    const pageA = await open('alice', `ws://127.0.0.1:${proxy.port}/realtime`);
    const pageB = await open('bob');
    Object.assign(pages, { a: pageA, b: pageB });

    for (const page of [pageA, pageB]) {
      await waitForBadge(page, 'connected');
      await page.locator('.composer input[name="text"]:not([disabled])').waitFor({ timeout: WAIT_MS });
      await waitForPresence(page, ['alice', 'bob']);
      assert.equal(await page.locator('.room-name').textContent(), ROOM);
    }
    assert.equal(proxy.stats.open, 1, 'page A goes through the proxy');

    // Record every change of A's badge from here on.
    await pageA.evaluate(() => {
      const badge = document.querySelector('.badge') as HTMLElement;
      const log = [badge.dataset.state ?? ''];
      (window as unknown as { badgeLog: string[] }).badgeLog = log;
      new MutationObserver(() => {
        if (log.at(-1) !== badge.dataset.state) log.push(badge.dataset.state ?? '');
      }).observe(badge, { attributes: true, attributeFilter: ['data-state'] });
    });

    // Before the cut: a normal conversation.
    const before = ['alice: hi bob', 'bob: hi alice', 'alice: ready for the test?', 'bob: sure'];
    for (const line of before) await say(line.startsWith('alice') ? pageA : pageB, line);
    for (const page of [pageA, pageB]) await waitForMessages(page, before);

    // The cut: A's connection reset, new connections refused.
    const cutAt = Date.now();
    proxy.cut();
    await waitForBadge(pageA, 'disconnected');
    assert.match((await pageA.locator('.badge').textContent()) ?? '', /disconnected/);
    await waitForPresence(pageB, ['bob']); // the server saw A go

    const bobDuringCut = ['bob: are you there?', 'bob: you dropped out'];
    for (const line of bobDuringCut) await say(pageB, line);
    await waitForMessages(pageB, bobDuringCut);

    const aliceDuringCut = ['alice: typing while offline', 'alice: still offline'];
    for (const line of aliceDuringCut) await say(pageA, line);
    const pending = (await shownMessages(pageA)).filter((message) => aliceDuringCut.includes(message.text));
    assert.deepEqual(pending.map((message) => message.status), ['pending', 'pending'], 'written offline: pending');
    assert.match((await pageA.locator('.composer-hint').textContent()) ?? '', /Offline: 2 messages waiting/);
    assert.notEqual(await badgeState(pageA), 'connected');
    await pageA.screenshot({ path: join(outDir, 'chat-page-a-offline.png') });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, CUT_MS - (Date.now() - cutAt))));
    assert.ok(proxy.stats.refused >= 1, `A kept retrying during the cut (${proxy.stats.refused} refused)`);
    assert.notEqual(await badgeState(pageA), 'connected');
    proxy.restore();

    // A comes back: the queue is flushed, the missed messages are recovered.
    await waitForBadge(pageA, 'connected', RECONNECT_WAIT_MS);
    const everything = [...before, ...bobDuringCut, ...aliceDuringCut];
    for (const page of [pageA, pageB]) await waitForMessages(page, everything);
    await waitForPresence(pageB, ['alice', 'bob']);

    const shownA = await shownMessages(pageA);
    const shownB = await shownMessages(pageB);
    const lines = (shown: ShownMessage[]) => shown.map((message) => message.text);
    assert.deepEqual(lines(shownA).slice().sort(), everything.slice().sort(), 'A shows every message exactly once');
    assert.deepEqual(lines(shownB), lines(shownA), 'B shows the same messages in the same order');
    for (const shown of [shownA, shownB]) {
      assert.ok(shown.every((message) => message.text.startsWith(`${message.from}: `)), 'each message under its sender');
      const offsets = shown.map((message) => Number(message.offset));
      assert.deepEqual(offsets, offsets.slice().sort((a, b) => a - b), 'in channel order');
      assert.equal(new Set(offsets).size, offsets.length, 'one entry per offset');
    }
    assert.deepEqual(shownA.map((message) => message.offset), shownB.map((message) => message.offset));
    // A's own messages, those from before the cut and those written during it, are all delivered.
    const ownA = shownA.filter((message) => message.from === 'alice');
    assert.equal(ownA.length, 4);
    assert.deepEqual(ownA.map((message) => message.status), ['delivered', 'delivered', 'delivered', 'delivered']);
    // Within one sender, send order is kept.
    assert.deepEqual(lines(shownA).filter((text) => text.startsWith('alice')), [before[0], before[2], ...aliceDuringCut]);

    const badgeLog = await pageA.evaluate(() => (window as unknown as { badgeLog: string[] }).badgeLog);
    const disconnectedAt = badgeLog.indexOf('disconnected');
    assert.ok(disconnectedAt > 0, `badge went disconnected: ${badgeLog.join(' → ')}`);
    assert.equal(badgeLog.at(-1), 'connected', `badge ended connected: ${badgeLog.join(' → ')}`);
    assert.match((await pageA.locator('.composer-hint').textContent()) ?? '', /Enter to send/);

    const screenshot = join(outDir, 'chat-page-a.png');
    await pageA.screenshot({ path: screenshot });
    t.diagnostic(`screenshot of page A: ${screenshot} (during the cut: chat-page-a-offline.png beside it)`);
    if (process.env.CHAT_E2E_SHOT_B) await pageB.screenshot({ path: join(outDir, 'chat-page-b.png') });
    t.diagnostic(`badge of page A: ${badgeLog.join(' → ')}; proxy ${JSON.stringify(proxy.stats)}`);
    assert.deepEqual(pageErrors, [], 'no script errors on the pages');
  }));

test('chat page: after a cut longer than the room history, the page says so and reloads the history', (t) =>
  chatScenario(t, async ({ server, proxy, browser, pages }) => {
    const writers: RealtimeClient[] = [];
    try {
      const page = await (await browser.newContext({ viewport: { width: 1200, height: 760 } })).newPage();
      pages.a = page;
      const query = new URLSearchParams({ name: 'alice', room: 'flood', realtime: `ws://127.0.0.1:${proxy.port}/realtime` });
      await page.goto(`${server.url}/chat.html?${query.toString()}`);
      await waitForBadge(page, 'connected');
      await page.locator('.composer input[name="text"]:not([disabled])').waitFor({ timeout: WAIT_MS });
      await say(page, 'alice: before');
      await waitForMessages(page, ['alice: before']);

      proxy.cut();
      await waitForBadge(page, 'disconnected');
      await say(page, 'alice: during');
      // More messages than the room keeps, from three writers (each stays within its rate limit).
      const flood = CHAT_HISTORY_SIZE + 30;
      const wsUrl = `${server.url.replace(/^http:/, 'ws:')}/realtime`;
      const names = ['carol', 'dave', 'erin'];
      for (const name of names) writers.push(new RealtimeClient(wsUrl, { WebSocket, token: name }));
      await Promise.all(
        writers.map(async (writer, index) => {
          const name = names[index]!;
          for (let n = index; n < flood; n += writers.length) {
            await writer.publish('room:flood', { id: `flood${n}`, from: name, text: `${name}: flood ${n}`, at: Date.now() });
          }
        }),
      );
      proxy.restore();

      await waitForBadge(page, 'connected', RECONNECT_WAIT_MS);
      await page.locator('.banner:not([hidden])').waitFor({ timeout: WAIT_MS });
      assert.match((await page.locator('.banner-text').textContent()) ?? '', /could not be recovered/);
      await waitForMessages(page, [`${names[(flood - 1) % names.length]!}: flood ${flood - 1}`, 'alice: during']);
      await page.waitForFunction(() => document.querySelector('.messages .start')?.textContent?.includes('not shown') === true, null, { timeout: WAIT_MS });

      const shown = await shownMessages(page);
      const offsets = shown.map((message) => Number(message.offset));
      assert.deepEqual(offsets, offsets.slice().sort((a, b) => a - b), 'in channel order');
      assert.equal(new Set(offsets).size, offsets.length, 'one entry per offset');
      assert.equal(new Set(shown.map((message) => message.text)).size, shown.length, 'each message once');
      assert.ok(shown.length >= 50 && shown.length <= 52, `the last 50 of the history and what came after (${shown.length})`);
      assert.ok(!shown.some((message) => message.text === 'alice: before'), 'what history lost is not shown');
      assert.equal(shown.find((message) => message.text === 'alice: during')?.status, 'delivered');
    } finally {
      for (const writer of writers) writer.close();
    }
  }));

test('chat page: when the browser is back online it reconnects at once, not when its backoff says', (t) =>
  chatScenario(t, async ({ server, proxy, browser, pages }) => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    const page = await context.newPage();
    pages.a = page;
    const query = new URLSearchParams({ name: 'alice', room: 'online', realtime: `ws://127.0.0.1:${proxy.port}/realtime` });
    await page.goto(`${server.url}/chat.html?${query.toString()}`);
    await waitForBadge(page, 'connected');

    // The network goes away: the connection drops and retries back off (up to 5 s apart).
    await context.setOffline(true);
    proxy.cut();
    await waitForBadge(page, 'disconnected');
    // Wait for a retry that is more than RETRY_FAR_MS away, so that the backoff alone would be too late.
    const RETRY_FAR_MS = 3_000;
    const BACK_WITHIN_MS = 2_500;
    await page.waitForFunction(
      (farSeconds) => {
        const badge = document.querySelector('.badge') as HTMLElement | null;
        const seconds = Number(/retrying in (\d+) s/.exec(badge?.textContent ?? '')?.[1] ?? 0);
        return badge?.dataset.state === 'disconnected' && seconds > farSeconds;
      },
      RETRY_FAR_MS / 1000,
      { timeout: 40_000, polling: 50 },
    );

    proxy.restore();
    const backOnline = Date.now();
    await context.setOffline(false); // the page gets its 'online' event
    await waitForBadge(page, 'connected', BACK_WITHIN_MS);
    t.diagnostic(`connected ${Date.now() - backOnline} ms after the browser came back online`);
    await page.locator('.composer input[name="text"]:not([disabled])').waitFor({ timeout: WAIT_MS });
    await say(page, 'alice: back');
    await waitForMessages(page, ['alice: back']);
  }));
