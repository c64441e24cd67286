// `tidewire serve`: the production entry point. One node of the messaging layer on one port, with
// Redis for several nodes side by side behind a load balancer (deploy/nginx.conf, docs/deploy.md),
// TLS, an Origin allowlist, token auth, a /healthz endpoint and a graceful stop on SIGTERM/SIGINT.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_REALTIME_PATH } from '../index.js';
import { integerOption } from './integer-option.js';
import { secretAuthenticate } from './serve-auth.js';
import { redactedUrl, serveBroker } from './serve-broker.js';
import { loadServeHooks, type ServeHooks } from './serve-hooks-module.js';
import { startServeNode } from './serve-server.js';
import { shutdownOnSignal } from './shutdown-on-signal.js';

interface ServeCommandOptions {
  port: number;
  host: string;
  path: string;
  redis?: string;
  keyPrefix: string;
  tlsCert?: string;
  tlsKey?: string;
  origin?: string[];
  authSecret?: string;
  authModule?: string;
  history?: number;
  historyTtl?: number;
  maxOutboundBytes?: number;
  heartbeatMs?: number;
  drainMs: number;
  nodeId: string;
}

const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Builds the `serve` subcommand. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run a messaging-layer node (several side by side with --redis, behind a load balancer)')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integerOption(0, 65_535), 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 when the balancer is on another machine)', '127.0.0.1')
    .option('--path <path>', 'WebSocket path of the messaging layer', DEFAULT_REALTIME_PATH)
    .option('--redis <url>', 'Redis URL (redis://[:password@]host:port[/db]); without it: in-memory, single node only')
    .option('--key-prefix <prefix>', 'prefix of every Redis key and pub/sub channel (one per deployment)', 'tidewire:')
    .option('--tls-cert <file>', 'PEM certificate chain: serve https and wss (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key (with --tls-cert)')
    .option('--origin <origin>', 'allowed Origin, "scheme://host[:port]" (repeatable; others get 403)', repeatable)
    .addOption(new Option('--auth-secret <secret>', 'accept only tokens signed with this secret (see `tidewire token`)').env('TIDEWIRE_AUTH_SECRET'))
    .option('--auth-module <file>', 'an ES module exporting authenticate(req, token), canSubscribe(session, channel) and/or canPublish(session, channel, data)')
    .option('--history <count>', 'publications kept per channel for recovery (default 1000)', integerOption(1, 10_000_000))
    .option('--history-ttl <seconds>', 'and none older than this (default 600)', integerOption(1, 365 * 24 * 3600))
    .option('--max-outbound-bytes <bytes>', "a connection's unsent bytes before it is closed with 1013 (default 4 MiB)", integerOption(1024, Number.MAX_SAFE_INTEGER))
    .option('--heartbeat-ms <ms>', 'ping period, also the clients\' app-level ping period (default 25000; 0: off)', integerOption(0, 3_600_000))
    .option('--drain-ms <ms>', 'on SIGTERM, answer /healthz with 503 this long before closing (for balancers with health checks)', integerOption(0, 3_600_000), 0)
    .option('--node-id <id>', "this node's name in logs and /healthz", `${hostname()}-${process.pid}`)
    .action(async (options: ServeCommandOptions) => {
      const log = (line: string): void => void process.stderr.write(`tidewire serve [${options.nodeId}]: ${line}\n`);
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
      // Everything that can fail on bad input is checked before the broker connects.
      const tls = options.tlsCert !== undefined && options.tlsKey !== undefined
        ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
        : undefined;
      const hooks: ServeHooks = options.authModule !== undefined ? await loadServeHooks(options.authModule) : {};
      if (options.authSecret !== undefined) {
        if (hooks.authenticate !== undefined) throw new Error('--auth-secret and an --auth-module that exports authenticate: choose one');
        hooks.authenticate = secretAuthenticate(options.authSecret);
      }
      if (hooks.authenticate === undefined) log('warning: no --auth-secret and no authenticate hook: every connection is accepted anonymously');
      const { broker, kind, ready } = serveBroker({
        ...(options.redis !== undefined ? { redisUrl: options.redis } : {}),
        keyPrefix: options.keyPrefix,
        ...(options.history !== undefined ? { historySize: options.history } : {}),
        ...(options.historyTtl !== undefined ? { historyTtlMs: options.historyTtl * 1000 } : {}),
        log,
      });
      if (kind === 'memory') log('warning: no --redis, so channels live in this process: single node only (run one node, or give every node --redis)');
      else log(`broker: Redis at ${redactedUrl(options.redis ?? '')}, key prefix "${options.keyPrefix}"`);
      try {
        await ready();
      } catch (error) {
        await broker.close();
        throw new Error(`Redis at ${redactedUrl(options.redis ?? '')} did not answer: ${error instanceof Error ? error.message : String(error)}`);
      }
      const node = await startServeNode({
        port: options.port,
        host: options.host,
        path: options.path,
        nodeId: options.nodeId,
        broker,
        ...(tls !== undefined ? { tls } : {}),
        ...(options.origin !== undefined ? { allowedOrigins: options.origin } : {}),
        ...hooks,
        ...(options.maxOutboundBytes !== undefined ? { maxOutboundBytes: options.maxOutboundBytes } : {}),
        ...(options.heartbeatMs !== undefined ? { heartbeatIntervalMs: options.heartbeatMs } : {}),
        drainMs: options.drainMs,
        log,
      });
      process.stdout.write(`tidewire serve listening on ${node.url} (broker: ${kind}, node: ${options.nodeId})\n`);
      shutdownOnSignal(async () => {
        if (options.drainMs > 0) log(`draining: /healthz answers 503 for ${options.drainMs} ms before the sessions close`);
        await node.close();
        log('closed');
      }, log);
    });
}
