// Enforces DESIGN.md §1: imports under src/ point downward only, L4 code uses the public API,
// L3 folders do not import each other, and protocol/ stays sans-I/O (no sockets, timers, clocks, randomness).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const LAYERS: Readonly<Record<string, number>> = {
  protocol: 0, node: 1, realtime: 2, brokers: 3, transports: 3, codecs: 3, files: 3, cli: 4, examples: 4, web: 4,
};
const PUBLIC_API = 'index.ts';
/** The package's other entry points (package.json "exports", e.g. tidewire/codecs): public API too, for L4. */
const PUBLIC_SUBPATHS: ReadonlySet<string> = new Set(
  Object.values(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).exports as Record<string, unknown>)
    .map((target) => (typeof target === 'object' && target !== null ? (target as { import?: string }).import : undefined))
    .filter((target): target is string => typeof target === 'string' && target.startsWith('./dist/') && target !== './dist/index.js')
    .map((target) => target.slice('./dist/'.length).replace(/\.js$/, '.ts')),
);
/** The files that may import() a computed specifier, and why (nothing else can be checked that way). */
const COMPUTED_IMPORTS: ReadonlyMap<string, string> = new Map([
  ['cli/serve-hooks-module.ts', "loads the operator's `tidewire serve --auth-module` file"],
]);
const TOP = 4;
const NO_IO_MODULES = new Set(['net', 'http', 'https', 'http2', 'tls', 'dgram', 'timers', 'timers/promises']);
const NO_CLOCKS: readonly (readonly [RegExp, string])[] = [
  [/\bsetTimeout\b/g, 'setTimeout'], [/\bsetInterval\b/g, 'setInterval'], [/\bsetImmediate\b/g, 'setImmediate'],
  [/\bDate\s*\.\s*now\b/g, 'Date.now'], [/\bnew\s+Date\b/g, 'new Date'], [/\bperformance\s*\.\s*now\b/g, 'performance.now'],
  [/\bprocess\s*\.\s*hrtime\b/g, 'process.hrtime'], [/\bMath\s*\.\s*random\b/g, 'Math.random'],
  [/\bcrypto\s*\.\s*(?:getRandomValues|randomUUID)\b/g, 'crypto randomness'],
];
const WORD = /[\w$]+/y;
// Keywords after which "/" starts a regular expression rather than a division.
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** Index just past a string literal opening at `start`. */
function stringEnd(source: string, start: number): number {
  let k = start + 1;
  while (k < source.length && source[k] !== source[start] && source[k] !== '\n') k += source[k] === '\\' ? 2 : 1;
  return k + 1;
}

/** Index just past a regular expression literal opening at `start` ("/" inside a class does not close it). */
function regexEnd(source: string, start: number): number {
  let k = start + 1;
  for (let inClass = false; k < source.length && source[k] !== '\n' && (inClass || source[k] !== '/'); k += source[k] === '\\' ? 2 : 1) {
    if (source[k] === '[') inClass = true;
    if (source[k] === ']') inClass = false;
  }
  return k + 1;
}

/**
 * Two views of a source text with the same length and line breaks: `code` has comments blanked;
 * `bare` also blanks the insides of strings, templates and regular expressions.
 */
function scan(source: string): { code: string; bare: string } {
  const code = source.split(''); // UTF-16 units, so indices match `source`
  const bare = source.split('');
  const blank = (view: string[], from: number, to: number) => {
    for (let k = from; k < Math.min(to, source.length); k += 1) if (view[k] !== '\n') view[k] = ' ';
  };
  const templates: number[] = []; // brace depth at which each open `${` resumes its template
  let depth = 0;
  let last = ''; // last significant token, to tell a regex from a division
  const template = (start: number) => {
    let k = start;
    while (k < source.length && source[k] !== '`' && !(source[k] === '$' && source[k + 1] === '{')) k += source[k] === '\\' ? 2 : 1;
    blank(bare, start, k);
    if (source[k] === '$') templates.push(depth++);
    last = source[k] === '$' ? '{' : 'x';
    return k + (source[k] === '$' ? 2 : 1);
  };
  for (let i = 0; i < source.length; ) {
    const char = source[i]!;
    const next = source[i + 1];
    if (char === '/' && (next === '/' || next === '*')) {
      const close = next === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2);
      const stop = close === -1 ? source.length : next === '/' ? close : close + 2;
      blank(code, i, stop);
      blank(bare, i, stop);
      i = stop;
    } else if (char === '"' || char === "'" || (char === '/' && (last === '' || /^[^\w$)\]}]$/.test(last) || REGEX_AFTER_WORD.has(last)))) {
      const end = char === '/' ? regexEnd(source, i) : stringEnd(source, i);
      blank(bare, i + 1, end - 1);
      i = end;
      last = 'x';
    } else if (char === '`' || (char === '}' && templates.at(-1) === depth - 1)) {
      if (char === '}') {
        templates.pop();
        depth -= 1;
      }
      i = template(i + 1);
    } else if (/[\w$]/.test(char)) {
      WORD.lastIndex = i;
      last = WORD.exec(source)![0];
      i += last.length;
    } else {
      if (char === '{') depth += 1;
      if (char === '}') depth -= 1;
      if (!/\s/.test(char)) last = char;
      i += 1;
    }
  }
  return { code: code.join(''), bare: bare.join('') };
}

type Place = { kind: 'api' } | { kind: 'layer'; folder: string; rank: number } | { kind: 'outside' } | { kind: 'unknown'; name: string };

/** Which layer a path relative to src/ belongs to. */
function placeOf(path: string): Place {
  if (path.startsWith('..')) return { kind: 'outside' };
  const [first = '', ...rest] = path.split('/');
  if (rest.length === 0) return ['', '.', 'index', 'index.js', PUBLIC_API].includes(first) ? { kind: 'api' } : { kind: 'unknown', name: first };
  const rank = LAYERS[first];
  return rank === undefined ? { kind: 'unknown', name: first } : { kind: 'layer', folder: first, rank };
}

/** Why importing `target` from `source` breaks the layering, or null. */
function layeringProblem(source: Place, target: Place, specifier: string, targetPath: string): string | null {
  if (target.kind === 'outside') return `imports "${specifier}", outside src/`;
  if (target.kind === 'unknown') return `imports "${specifier}", which is in no layer of DESIGN.md §1`;
  if (source.kind !== 'layer') return null;
  if (target.kind === 'api') return source.rank === TOP ? null : `imports the public API "${specifier}" from inside the library`;
  if (target.folder === source.folder) return null;
  if (source.rank === TOP && PUBLIC_SUBPATHS.has(targetPath)) return null;
  if (source.rank === TOP) return `imports internal "${specifier}"; L4 code must use the public API (src/index.ts or another package.json export)`;
  if (target.rank > source.rank) return `imports "${specifier}" from a higher layer (L${source.rank} -> L${target.rank})`;
  if (target.rank === source.rank) return `imports "${specifier}" sideways between two L${source.rank} folders`;
  return null;
}

/** Does an import clause take nothing but createHash (or types) from node:crypto? */
function onlyCreateHash(clause: string | undefined): boolean {
  const trimmed = clause?.trim() ?? '';
  if (trimmed.startsWith('type ')) return true;
  const names = /^\{([^}]*)\}$/.exec(trimmed)?.[1]?.split(',').map((name) => name.trim());
  return names !== undefined && names.every((name) => name === 'createHash' || name === '' || name.startsWith('type '));
}

/** A bare (package or node:) import that the importing layer may not use. */
function moduleProblem(source: Place, specifier: string, clause: string | undefined): string | null {
  const name = specifier.replace(/^node:/, '');
  if (name === 'ws') return 'imports "ws": no WebSocket library at run time';
  if (source.kind !== 'layer' || source.folder !== 'protocol') return null;
  if (NO_IO_MODULES.has(name)) return `imports "${specifier}" into the sans-I/O protocol layer`;
  if (name === 'crypto' && !onlyCreateHash(clause)) return `imports more than createHash from "${specifier}" (randomness is injected)`;
  return null;
}

/** Every import/export-from/import()/require of one file (path relative to src/) that breaks the rules. */
function checkSource(path: string, source: string): string[] {
  const { code, bare } = scan(source);
  const self = placeOf(path);
  const problems: string[] = [];
  const report = (index: number, problem: string) => problems.push(`src/${path}:${source.slice(0, index).split('\n').length}: ${problem}`);
  if (self.kind === 'unknown') report(0, `"${self.name}" is in no layer of DESIGN.md §1`);
  const statements = /\b(?:import|export)(\s+[^;'"()=]*?\s*from\s*|\s*)(['"])|\b(?:import|require)\s*\(\s*(\S)/g;
  for (const match of bare.matchAll(statements)) {
    const quote = match[2] ?? match[3]!;
    const start = match.index + match[0].length;
    if (quote !== "'" && quote !== '"') {
      if (!COMPUTED_IMPORTS.has(path)) report(match.index, 'dynamic import with a computed specifier cannot be checked');
      continue;
    }
    const specifier = code.slice(start, code.indexOf(quote, start));
    const clause = match[1]?.replace(/\s*from\s*$/, '');
    const targetPath = posix.normalize(posix.join(posix.dirname(path), specifier)).replace(/\.js$/, '.ts');
    const problem = specifier.startsWith('.')
      ? layeringProblem(self, placeOf(targetPath), specifier, targetPath)
      : moduleProblem(self, specifier, clause);
    if (problem !== null) report(match.index, problem);
  }
  if (self.kind === 'layer' && self.folder === 'protocol') {
    for (const [pattern, name] of NO_CLOCKS) for (const match of bare.matchAll(pattern)) report(match.index, `uses ${name} in the sans-I/O protocol layer`);
  }
  return problems;
}

describe('architecture checker (self-test on fake sources)', () => {
  it('flags an upward import with its file and line', () => {
    assert.deepEqual(checkSource('protocol/a.ts', "// x\nimport { b } from '../node/b.js';\n"), [
      'src/protocol/a.ts:2: imports "../node/b.js" from a higher layer (L0 -> L1)',
    ]);
  });

  it('flags multi-line, type-only, export-from, dynamic and require imports', () => {
    const source = "import {\n  a,\n} from '../realtime/a.js';\nimport type { B } from '../cli/b.js';\nexport * from '../node/c.js';\nawait import('../node/d.js');\nrequire('../node/e.js');\nimport(name);";
    assert.deepEqual(checkSource('protocol/x.ts', source).map((line) => line.split(': ')[0]), [1, 4, 5, 6, 7, 8].map((n) => `src/protocol/x.ts:${n}`));
  });

  it('allows downward and same-folder imports and packages', () => {
    assert.deepEqual(checkSource('node/x.ts', "import { a } from '../protocol/a.js';\nimport { b } from './b.js';\nimport z from 'node:zlib';"), []);
    assert.deepEqual(checkSource('brokers/redis/x.ts', "import { m } from '../memory.js';\nexport { c } from '../../realtime/c.js';\nimport 'commander';"), []);
  });

  it('flags sideways imports between L3 folders and L4 imports of internal files', () => {
    assert.equal(checkSource('brokers/redis/x.ts', "import { c } from '../../codecs/c.js';").length, 1);
    assert.equal(checkSource('cli/main.ts', "import { s } from '../node/server.js';").length, 1);
    assert.equal(checkSource('cli/main.ts', "import { e } from '../examples/e.js';").length, 1);
    assert.deepEqual(checkSource('cli/main.ts', "import { W } from '../index.js';\nimport { h } from './h.js';"), []);
    assert.equal(checkSource('cli/main.ts', 'await import(url);').length, 1);
    assert.deepEqual(checkSource('cli/main.ts', "import { c } from '../codecs/index.js';"), [], 'tidewire/codecs is a public entry');
    assert.equal(checkSource('cli/main.ts', "import { c } from '../codecs/msgpack.js';").length, 1);
    assert.deepEqual(checkSource('cli/serve-hooks-module.ts', 'await import(url);'), [], 'the one allowed computed import');
  });

  it('flags the public API imported from inside the library and files outside any layer', () => {
    assert.equal(checkSource('node/x.ts', "import { W } from '../index.js';").length, 1);
    assert.equal(checkSource('node/x.ts', "import p from '../../package.json';").length, 1);
    assert.equal(checkSource('utils/x.ts', '').length, 1);
    assert.deepEqual(checkSource('index.ts', "export * from './node/server.js';\nexport * from './protocol/errors.js';"), []);
  });

  it('flags I/O modules, clocks, timers and randomness in protocol/ only', () => {
    const source = "import net from 'node:net';\nimport { setTimeout as s } from 'node:timers/promises';\nimport http from 'http';\nconst t = Date.now() + new Date().getTime() + performance.now() + Math.random();\nsetImmediate(f); setInterval(f, 1);\nimport { randomBytes } from 'node:crypto';";
    assert.deepEqual(checkSource('protocol/x.ts', source).map((problem) => problem.replace(/^src\/protocol\/x\.ts:(\d+): (?:imports (?:more than createHash from )?"(.*?)".*|uses (.+) in the.*)$/, '$1 $2$3')), [
      '1 node:net', '2 node:timers/promises', '3 http', '6 node:crypto', '2 setTimeout', '5 setInterval', '5 setImmediate',
      '4 Date.now', '4 new Date', '4 performance.now', '4 Math.random',
    ]);
    assert.deepEqual(checkSource('node/x.ts', source.replace(/^.*crypto.*$/m, '')), []);
    assert.deepEqual(checkSource('protocol/x.ts', "import { createHash } from 'node:crypto';"), []);
  });

  it('is not fooled by comments, strings and regular expressions, but reads template expressions', () => {
    const source = [
      '// setTimeout belongs to the driver; see Date.now 🕒',
      "/* import x from '../node/x.js' */",
      "const s = 'Math.random() from \"../node/y.js\"';",
      "const re = /['\"`]/g; const half = 4 / 2; const n = a / b / c;",
      'const t = `setInterval ${Date.now()} import("../node/z.js")`;',
    ].join('\n');
    assert.deepEqual(checkSource('protocol/x.ts', source), ['src/protocol/x.ts:5: uses Date.now in the sans-I/O protocol layer']);
  });

  it('flags a WebSocket library in any layer', () => {
    assert.equal(checkSource('node/x.ts', "import { WebSocket } from 'ws';").length, 1);
  });
});

describe('architecture of src/ (DESIGN.md §1)', () => {
  it('has no upward or sideways import and no I/O, timer or clock in protocol/', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
      .map((file) => file.split('\\').join('/'))
      .filter((file) => file.endsWith('.ts'))
      .sort();
    assert.ok(files.includes('protocol/handshake.ts'), `the scan found the sources (${files.length} files)`);
    const problems = files.flatMap((file) => checkSource(file, readFileSync(SRC + file, 'utf8')));
    assert.deepEqual(problems, [], `layering violations:\n${problems.join('\n')}`);
  });
});
