// Server heartbeat (RFC 6455 §5.5.2): one timer for all connections. Each round pings every
// connection and terminates those that showed no sign of life (no read at all) since the last round.

import { ReadyState, type WebSocket } from './websocket.js';

export class Heartbeat {
  private readonly timer: NodeJS.Timeout;

  constructor(connections: ReadonlySet<WebSocket>, intervalMs: number) {
    this.timer = setInterval(() => {
      for (const ws of connections) {
        const driver = ws.driverForServer;
        if (driver === null || ws.readyState !== ReadyState.OPEN) continue;
        if (!driver.alive) {
          ws.terminate();
          continue;
        }
        driver.alive = false;
        ws.ping();
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
