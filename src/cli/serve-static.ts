// Serves the demo page's files from one flat folder (web/). Only names like `app.js` are
// accepted: no slashes, no leading dot, a known extension, so no request can leave the folder.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};

const FILE_NAME = /^\/([a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*)\.([a-z0-9]+)$/i;

/**
 * Answers a GET/HEAD for `pathname` (`/` means `/index.html`) from `rootDir`.
 * Resolves false, having written nothing, when there is no such file: the caller sends its 404.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, rootDir: string): Promise<boolean> {
  const match = FILE_NAME.exec(pathname === '/' ? '/index.html' : pathname);
  const contentType = match === null ? undefined : CONTENT_TYPES[match[2]!.toLowerCase()];
  if (match === null || contentType === undefined) return false;

  let body: Buffer;
  try {
    body = await readFile(join(rootDir, `${match[1]}.${match[2]}`));
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': body.length,
    // The demo is edited live; a stale cached app.js would be confusing.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // Same-origin scripts and WebSockets only: the page needs nothing else.
    'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR';
}
