import http from 'node:http';
import https from 'node:https';
import { metricsRegistry } from '@kairos/telemetry';
import type { Logger } from './logger';
import type { ServerTls } from './security';

/**
 * Why a request path cannot be routed, or undefined: routes decode path segments with
 * decodeURIComponent, which throws on a malformed escape (`%ff`, `%zz`, a cut UTF-8 sequence).
 * Checked once here so every route can rely on it (and answers 400, not 500).
 */
export function pathProblem(path: string): string | undefined {
  if (/[^\x21-\x7e]/.test(path)) return 'URL path: only printable ASCII; percent-encode other bytes';
  try {
    decodeURIComponent(path);
    return undefined;
  } catch {
    return 'URL path: malformed percent-encoding (each % starts an escape of UTF-8 bytes, e.g. %C3%A9)';
  }
}

export type HttpRoute = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

/** Answers `body` as JSON with `status`; returns true, so a route can end with `return replyJson(…)`. */
export function replyJson(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return true;
}

/**
 * The request's body, or undefined once it passes `maxBytes`: the rest is read and dropped, so
 * the route can still answer (413) on the same connection.
 */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * `/healthz` (alive), `/readyz` (dependencies ready), `/metrics` (Prometheus); services may add routes.
 * Given `tls`, it serves HTTPS, and refuses clients without a certificate signed by the CA when
 * `tls.httpRequireClientCert` is set.
 */
export class HttpServer {
  private readonly server: http.Server;
  private readonly routes: HttpRoute[] = [];
  ready = false;
  port = 0;

  constructor(
    private readonly logger: Logger,
    private readonly tls?: ServerTls,
  ) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = tls
      ? https.createServer(
          {
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: tls.httpRequireClientCert,
            rejectUnauthorized: tls.httpRequireClientCert,
          },
          handler,
        )
      : http.createServer(handler);
  }

  /** Whether the server speaks HTTPS (session cookies are then marked Secure). */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  addRoute(route: HttpRoute): void {
    this.routes.push(route);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      const problem = pathProblem(path);
      if (problem) return void res.writeHead(400, { 'content-type': 'text/plain' }).end(problem);
      if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (path === '/readyz') {
        return void res
          .writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain' })
          .end(this.ready ? 'ready' : 'not ready');
      }
      if (path === '/metrics') {
        const body = await metricsRegistry.metrics();
        return void res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(body);
      }
      for (const route of this.routes) if (await route(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } catch (err) {
      this.logger.error({ err: (err as Error).message, url: req.url }, 'HTTP handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    }
  }

  async start(port: number, host = '0.0.0.0'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    const transport = this.tls ? (this.tls.httpRequireClientCert ? 'mtls' : 'tls') : 'plaintext';
    this.logger.info({ port: this.port, transport }, 'HTTP server listening');
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeIdleConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
