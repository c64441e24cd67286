// Debian's Chromium for browser tests: whether it is there (skip loudly, or fail when CI=true)
// and a headless launch with the flags this closed network needs.

import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requireTool } from './external-tool.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function requireChromium(t: TestContext): Promise<boolean> {
  return requireTool(t, 'chromium', () => existsSync(CHROMIUM), 'apt-get install -y --no-install-recommends chromium (the tests launch /usr/bin/chromium)');
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
}
