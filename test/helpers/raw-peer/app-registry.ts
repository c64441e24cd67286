// Finding the application object of the endpoint under test for a raw connection: the server-side
// WebSocket is known by the TCP port of the raw client that reached it.

import { DEFAULT_TIMEOUT_MS, withTimeout } from '../with-timeout.js';

/** Maps a TCP port to the application object of the connection on it (the server's side of a raw client). */
export class AppRegistry<App> {
  private readonly apps = new Map<number, App>();
  private readonly waiting = new Map<number, (app: App) => void>();

  register(port: number | undefined, app: App): void {
    if (port === undefined) return;
    const waiter = this.waiting.get(port);
    if (waiter !== undefined) {
      this.waiting.delete(port);
      waiter(app);
    } else {
      this.apps.set(port, app);
    }
  }

  get(port: number | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<App> {
    if (port === undefined) return Promise.reject(new Error('no local port'));
    const app = this.apps.get(port);
    if (app !== undefined) return Promise.resolve(app);
    return withTimeout(new Promise<App>((resolve) => this.waiting.set(port, resolve)), timeoutMs, `the connection event for port ${port}`);
  }
}
