// The URL a listening server prints (`ws://127.0.0.1:9001`): IPv6 hosts need brackets in a URL.

/** Formats `scheme://host:port`, bracketing IPv6 literals. */
export function listenUrl(scheme: 'ws' | 'http', host: string, port: number): string {
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${scheme}://${hostPart}:${port}`;
}
