// A real nginx in front of the nodes, started from the shipped deploy/nginx.conf with the test's
// ports, logs and temp paths swapped in (so the test runs the configuration the docs tell you to use).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT } from '../../helpers/cli-process.js';
import { watchOutput } from '../../helpers/child-output.js';
import { unusedPort } from '../../helpers/free-port.js';

export const NGINX_BINARY = process.env.NGINX_BINARY ?? '/usr/sbin/nginx';
const SHIPPED_CONF = join(REPO_ROOT, 'deploy', 'nginx.conf');

export interface NginxProcess {
  readonly port: number;
  /** What nginx wrote to its error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** deploy/nginx.conf with `port` for `listen`, `upstreamPorts` for the upstream, and everything it writes under `dir`. */
export function nginxConf(port: number, upstreamPorts: readonly number[], dir: string): string {
  const shipped = readFileSync(SHIPPED_CONF, 'utf8');
  const servers = /^(\s*)server 127\.0\.0\.1:\d+( .*;)$/gm;
  const first = servers.exec(shipped);
  if (first === null) throw new Error('deploy/nginx.conf has no "server 127.0.0.1:<port> …;" line in its upstream');
  const [, indent = '', rest = ';'] = first;
  const upstream = upstreamPorts.map((upstreamPort) => `${indent}server 127.0.0.1:${upstreamPort}${rest}`).join('\n');
  let replacedUpstream = false;
  const conf = shipped
    .replace(servers, () => (replacedUpstream ? '' : ((replacedUpstream = true), upstream)))
    .replace(/^(\s*)listen 8080;$/m, `$1listen 127.0.0.1:${port};`)
    .replace(/^worker_processes .*;$/m, 'worker_processes 1;')
    .replace(/^http \{$/m, [
      'http {',
      `    access_log ${join(dir, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(dir, kind)};`),
    ].join('\n'));
  if (!conf.includes(`listen 127.0.0.1:${port};`)) throw new Error('deploy/nginx.conf has no "listen 8080;" line');
  return conf;
}

/** Starts nginx on a free port with the nodes on `upstreamPorts` behind it; resolves once it accepts connections. */
export async function startNginx(upstreamPorts: readonly number[], dir: string): Promise<NginxProcess> {
  const port = await unusedPort('127.0.0.1');
  const confFile = join(dir, 'nginx.conf');
  writeFileSync(confFile, nginxConf(port, upstreamPorts, dir));
  const errorLogFile = join(dir, 'error.log');
  const child: ChildProcess = spawn(
    NGINX_BINARY,
    ['-e', errorLogFile, '-c', confFile, '-p', dir, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = watchOutput(child);
  const exited = once(child, 'exit');
  const errorLog = (): string => (existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '') + output.stderr();
  for (let attempt = 0; !(await accepts(port)); attempt += 1) {
    if (child.exitCode !== null || attempt > 100) throw new Error(`nginx did not start (exit ${child.exitCode}):\n${errorLog()}`);
    await delay(50);
  }
  return {
    port,
    errorLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM'); // fast shutdown: open WebSocket connections would hold a graceful (SIGQUIT) one
      await Promise.race([exited, delay(5000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Is nginx installed and runnable? */
export function nginxAvailable(): boolean {
  return existsSync(NGINX_BINARY);
}
