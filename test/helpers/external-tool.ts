// Gate for tests that need an external tool (Chromium, Python's websockets, nginx, Redis).
// Missing locally: the test skips loudly. Missing in CI (CI=true): the test fails, so a
// broken CI image can never turn the interop suite into a row of silent skips.

import type { TestContext } from 'node:test';

/**
 * Resolves true when the tool is usable. Otherwise skips the test (printing
 * `SKIPPED: <name> not found: <how>` to stderr) and resolves false, or, when
 * `process.env.CI === 'true'`, throws so the test fails. Callers return at once on false:
 *
 *   if (!(await requireTool(t, 'chromium', () => existsSync('/usr/bin/chromium'), 'apt-get install chromium'))) return;
 */
export async function requireTool(
  t: TestContext,
  name: string,
  check: () => boolean | Promise<boolean>,
  how: string,
): Promise<boolean> {
  let found: boolean;
  let detail = '';
  try {
    found = await check();
  } catch (error) {
    // A check that throws (spawn failure, ECONNREFUSED …) means "not found", with the cause shown.
    found = false;
    detail = ` (check threw: ${error instanceof Error ? error.message : String(error)})`;
  }
  if (found) return true;

  const reason = `${name} not found: ${how}${detail}`;
  if (process.env.CI === 'true') {
    process.stderr.write(`\nFAILED (CI=true): ${reason}\n`);
    throw new Error(`Required tool missing in CI: ${reason}`);
  }
  process.stderr.write(`\nSKIPPED: ${reason}\n`);
  t.skip(reason);
  return false;
}
