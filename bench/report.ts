// Turns the runs of a suite into medians and same-run ratios (against ws, and against the
// framing-free Node limit), checks the goals, prints the table, writes the JSON result
// and (re)writes the generated results section of docs/BENCHMARKS.md. Run directly
// (`node --import tsx bench/report.ts bench/results/<date>.json`) it re-renders that section.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GOALS, SCENARIOS, SERVER_LABELS, type MetricSpec, type ServerId } from './scenarios.js';

export interface RunRecord {
  scenario: string;
  server: ServerId;
  round: number;
  /** Metric key to value (absent when the run failed). */
  metrics: Record<string, number>;
  /** Check and connection errors of the run (verify, protocol, connection, failed connects, crash). */
  errors: number;
  errorDetail: Record<string, number>;
  serverCpuPct: number | null;
  /** CPU used by neither the server nor the load generator (other processes): the noise. */
  otherCpuPct: number | null;
  note: string | null;
  load: Record<string, unknown> | null;
  extra: Record<string, unknown>;
}

export interface SuiteInfo {
  command: string;
  date: string;
  elapsedS: number;
  machine: { nproc: number; cpu: string; node: string; kernel: string; ws: string; loadAvgAtStart: number[] };
  loadGenerator: { name: 'wsload' | 'node'; detail: string };
  pinning: string;
  git: { commit: string; dirtySrc: string[] };
  settings: { runs: number; durationS: number; warmupS: number; smoke: boolean };
}

export interface MetricSummary extends MetricSpec {
  medians: Partial<Record<ServerId, number>>;
  min: Partial<Record<ServerId, number>>;
  max: Partial<Record<ServerId, number>>;
  /** Ratio of medians, tidewire ÷ ws (for "lower is better" metrics too: below 1 is then better). */
  vsWs: number | null;
  /** tidewire ÷ ws within each round (the servers ran back to back), in round order. */
  pairedVsWs: number[];
  vsNetRaw: number | null;
}

export interface ScenarioSummary {
  name: string;
  title: string;
  servers: ServerId[];
  metrics: MetricSummary[];
  errors: Partial<Record<ServerId, number>>;
  medianOtherCpuPct: number | null;
  notes: string[];
}

export interface GoalStatus {
  title: string;
  targetText: string;
  measured: number | null;
  measuredText: string;
  met: boolean | null;
}

export interface SuiteResult extends SuiteInfo {
  scenarios: ScenarioSummary[];
  goals: GoalStatus[];
  runs: RunRecord[];
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ratio(a: number | undefined | null, b: number | undefined | null): number | null {
  return a == null || b == null || b === 0 ? null : a / b;
}

export function summarize(info: SuiteInfo, runs: RunRecord[], scenarioNames: string[]): SuiteResult {
  const scenarios: ScenarioSummary[] = [];
  for (const name of scenarioNames) {
    const scenario = SCENARIOS.find((s) => s.name === name)!;
    const own = runs.filter((r) => r.scenario === name);
    const servers = scenario.servers.filter((id) => own.some((r) => r.server === id));
    const metrics = scenario.metrics.map((spec): MetricSummary => {
      const summary: MetricSummary = { ...spec, medians: {}, min: {}, max: {}, vsWs: null, pairedVsWs: [], vsNetRaw: null };
      for (const id of servers) {
        const values = own.filter((r) => r.server === id && r.metrics[spec.key] !== undefined).map((r) => r.metrics[spec.key]!);
        const m = median(values);
        if (m === null) continue;
        summary.medians[id] = m;
        summary.min[id] = Math.min(...values);
        summary.max[id] = Math.max(...values);
      }
      summary.vsWs = ratio(summary.medians.tidewire, summary.medians.ws);
      summary.vsNetRaw = ratio(summary.medians.tidewire, summary.medians['net-raw']);
      const rounds = [...new Set(own.map((r) => r.round))].sort((a, b) => a - b);
      for (const round of rounds) {
        const value = (id: ServerId) => own.find((r) => r.round === round && r.server === id)?.metrics[spec.key];
        const paired = ratio(value('tidewire'), value('ws'));
        if (paired !== null) summary.pairedVsWs.push(paired);
      }
      return summary;
    });
    const errors: Partial<Record<ServerId, number>> = {};
    for (const id of servers) errors[id] = own.filter((r) => r.server === id).reduce((sum, r) => sum + r.errors, 0);
    const noise = own.map((r) => r.otherCpuPct).filter((x): x is number => x !== null);
    const notes = own.filter((r) => r.note !== null).map((r) => `${SERVER_LABELS[r.server]}, run ${r.round}: ${r.note}`);
    scenarios.push({ name, title: scenario.title, servers, metrics, errors, medianOtherCpuPct: median(noise), notes });
  }
  return { ...info, scenarios, goals: checkGoals(scenarios), runs };
}

function checkGoals(scenarios: ScenarioSummary[]): GoalStatus[] {
  return GOALS.map((goal) => {
    const metric = scenarios.find((s) => s.name === goal.scenario)?.metrics.find((m) => m.key === goal.metric);
    const measured = goal.type === 'ratio' ? (metric?.vsWs ?? null) : (metric?.medians.tidewire ?? null);
    const measuredText =
      measured === null ? 'not measured' : goal.type === 'ratio' ? `${formatRatio(measured)} ws` : formatValue(measured, metric!.unit);
    const met = measured === null ? null : goal.type === 'ratio' ? measured >= goal.target : measured <= goal.target;
    return { title: goal.title, targetText: goal.targetText, measured, measuredText, met };
  });
}

// ---- formatting ------------------------------------------------------------------------------

export function formatValue(value: number | undefined | null, unit: string): string {
  if (value == null) return '–';
  if (unit === 'bytes') return value >= 1024 ? `${(value / 1024).toFixed(2)} KB` : `${Math.round(value)} B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(2)}k`;
  return value.toFixed(value >= 100 ? 0 : 1);
}

export function formatRatio(value: number | null): string {
  return value === null ? '–' : `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

function spread(values: number[]): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 1 ? formatRatio(sorted[0]!) : `${formatRatio(sorted[0]!)}–${formatRatio(sorted.at(-1)!)}`;
}

function errorText(scenario: ScenarioSummary): string {
  const entries = scenario.servers.map((id) => [id, scenario.errors[id] ?? 0] as const);
  if (entries.every(([, n]) => n === 0)) return '0';
  return entries.filter(([, n]) => n > 0).map(([id, n]) => `${SERVER_LABELS[id]} ${n}`).join(', ');
}

const TABLE_SERVERS: ServerId[] = ['tidewire', 'ws', 'net-raw', 'c-raw'];

export function resultsTable(result: SuiteResult): string {
  const rows = [
    '| scenario | metric | tidewire | ws | Node net raw | C raw | tidewire ÷ ws | ÷ ws per run | tidewire ÷ net raw | errors | other CPU |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const scenario of result.scenarios) {
    for (const metric of scenario.metrics) {
      const cells = TABLE_SERVERS.map((id) => formatValue(metric.medians[id], metric.unit));
      const label = metric.higherIsBetter ? metric.label : `${metric.label} (lower is better)`;
      const noise = scenario.medianOtherCpuPct === null ? '–' : `${Math.round(scenario.medianOtherCpuPct)} %`;
      rows.push(
        `| ${scenario.name} | ${label} | ${cells.join(' | ')} | **${formatRatio(metric.vsWs)}** | ${spread(metric.pairedVsWs)} | ${formatRatio(metric.vsNetRaw)} | ${errorText(scenario)} | ${noise} |`,
      );
    }
  }
  return rows.join('\n');
}

export function goalsTable(result: SuiteResult): string {
  const rows = ['| goal | target | measured | met |', '|---|---|--:|---|'];
  for (const goal of result.goals) {
    const met = goal.met === null ? 'not measured' : goal.met ? 'yes' : '**no**';
    rows.push(`| ${goal.title} | ${goal.targetText} | ${goal.measuredText} | ${met} |`);
  }
  return rows.join('\n');
}

function headerLines(result: SuiteResult): string[] {
  const m = result.machine;
  const git = result.git.dirtySrc.length === 0 ? `commit ${result.git.commit.slice(0, 10)}` : `commit ${result.git.commit.slice(0, 10)} plus uncommitted changes to ${result.git.dirtySrc.join(', ')}`;
  return [
    `- Command: \`${result.command}\``,
    `- Date: ${result.date} (took ${formatDuration(result.elapsedS)})`,
    `- Machine: ${m.nproc} cores (${m.cpu}), Linux ${m.kernel}, Node ${m.node}, ws ${m.ws}; load average at start ${m.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}`,
    `- Load generator: ${result.loadGenerator.detail}`,
    `- Pinning: ${result.pinning}`,
    `- Runs: ${result.settings.runs} per server, interleaved (A B C, A B C, …); medians. Echo runs: ${result.settings.warmupS} s warm-up, ${result.settings.durationS} s measured${result.settings.smoke ? ' (smoke run: too short to mean anything)' : ''}`,
    `- tidewire: dist/ built from ${git}`,
  ];
}

export function formatDuration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

/** The console report. */
export function consoleReport(result: SuiteResult): string {
  const notes = result.scenarios.flatMap((s) => s.notes);
  return [
    ...headerLines(result),
    '',
    resultsTable(result),
    '',
    goalsTable(result),
    ...(notes.length > 0 ? ['', 'Notes:', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

export function writeJson(result: SuiteResult, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';

/** The generated section of docs/BENCHMARKS.md. */
export function docsSection(result: SuiteResult, jsonFile: string): string {
  const notes = result.scenarios.flatMap((s) => s.notes);
  return [
    BEGIN,
    '<!-- Generated by bench/report.ts from the last full run; edits between these markers are overwritten. -->',
    '',
    '## Results',
    '',
    ...headerLines(result),
    `- Raw numbers: \`${jsonFile}\` (every run, with the load generator's full output; bench/results/ is gitignored, so the file stays on the machine that ran the suite)`,
    '',
    resultsTable(result),
    '',
    'Columns: medians of each server; **tidewire ÷ ws** is the ratio of the medians, "÷ ws per run" the range of the ratios within each',
    'round (the two ran back to back); "errors" counts sequence/byte check failures, protocol and connection errors and failed',
    'connects over all runs; "other CPU" is the median CPU (in % of one core) used during the runs by processes other than the',
    'server and the load generator: the noise of this shared machine. 1 KB = 1,024 bytes.',
    '',
    '### Goals',
    '',
    goalsTable(result),
    ...(notes.length > 0 ? ['', '### Notes from the runs', '', ...notes.map((n) => `- ${n}`)] : []),
    '',
    END,
  ].join('\n');
}

/** Replaces the generated section of the docs file (creating the file or section if needed). */
export function writeDocs(result: SuiteResult, docsFile: string, jsonFile: string): void {
  const section = docsSection(result, jsonFile);
  let text = existsSync(docsFile) ? readFileSync(docsFile, 'utf8') : '# Benchmarks\n\nSee `bench/` and `npm run bench -- --help`.\n';
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin >= 0 && end > begin) text = text.slice(0, begin) + section + text.slice(end + END.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  mkdirSync(path.dirname(docsFile), { recursive: true });
  writeFileSync(docsFile, text);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const jsonFile = process.argv[2];
  if (jsonFile === undefined) {
    process.stderr.write('usage: node --import tsx bench/report.ts bench/results/<date>.json\n');
    process.exit(2);
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const result = JSON.parse(readFileSync(jsonFile, 'utf8')) as SuiteResult;
  const absolute = path.resolve(jsonFile);
  const shown = absolute.startsWith(`${repoRoot}${path.sep}`) ? path.relative(repoRoot, absolute) : absolute;
  writeDocs(result, path.join(repoRoot, 'docs/BENCHMARKS.md'), shown);
  process.stdout.write(`${consoleReport(result)}\n\ndocs/BENCHMARKS.md: results section rewritten from ${shown}\n`);
}
