// The README's messaging-layer examples, kept here so `npm test` (its type-check) fails when they drift from the API.
import http from 'node:http';
import { RealtimeServer, RealtimeClient, WebSocket } from '../src/index.js';
import { msgpackCodec } from '../src/codecs/index.js';
declare function userFor(token: string): Promise<string>;
declare function reloadState(): void;
declare const lastSeen: { epoch: string; offset: number };
declare const window: { addEventListener(type: 'online', listener: () => void): void };
export async function serverExample(): Promise<void> {
  const server = http.createServer().listen(8080);
  const rt = new RealtimeServer({
    server,
    codecs: [msgpackCodec],
    authenticate: async (req, token) => (token ? { userId: await userFor(token) } : null),
    canPublish: (session, channel) => channel.startsWith('room:'),
  });
  rt.handle('add', async ({ a, b }: { a: number; b: number }) => a + b);
  await rt.publish('room:lobby', { text: 'server says hi' });
}
export async function clientExample(): Promise<void> {
  type Channels = { 'room:lobby': { text: string }; 'room:feed': { text: string } };
  type Methods = { add: { params: { a: number; b: number }; result: number } };
  const client = new RealtimeClient<Channels, Methods>('ws://localhost:8080/realtime', { WebSocket, token: 'secret' });
  const lobby = client.subscribe('room:lobby', { presence: true });
  lobby.on('publication', (message, { offset }) => console.log(offset, message.text));
  lobby.on('subscribed', ({ recovered }) => recovered || reloadState());
  const { offset } = await client.publish('room:lobby', { text: 'hi' });
  const sum: number = await client.call('add', { a: 1, b: 2 });
  client.on('state', (state) => console.log(state, offset, sum));
  const feed = client.subscribe('room:feed', { since: lastSeen });
  window.addEventListener('online', () => client.reconnectNow());
  feed.on('publication', (message) => console.log(message.text));
}
