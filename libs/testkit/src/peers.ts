/**
 * Test peers for delivery's integration and e2e tests and the local runner: an SMTP sink
 * (smtp-server) and an HTTP sink standing in for SMS/push providers, webhooks and Slack.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** Header names lower-cased, folded lines joined. */
  headers: Record<string, string>;
  /** The raw text with quoted-printable decoded (good enough to find links and text). */
  decoded: string;
}

/** Reply for one message: nothing (250 OK), an SMTP error, or a promise that delays the reply. */
export type SmtpReply = void | { code: number; message: string };

export interface SmtpSink {
  port: number;
  url: string;
  messages: ReceivedMail[];
  close(): Promise<void>;
}

export function parseHeaders(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const out: Record<string, string> = {};
  let last = '';
  for (const line of head.split(/\r?\n/)) {
    if (/^\s/.test(line) && last) out[last] += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      last = line.slice(0, i).trim().toLowerCase();
      out[last] = line.slice(i + 1).trim();
    }
  }
  return out;
}

export function decodeQuotedPrintable(s: string): string {
  return s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * Starts an SMTP server on a free port of `host` (loopback by default; a cluster test passes an
 * address its pods reach). `onMessage` may return an error reply (e.g. 550) or delay (return a
 * promise); the message is recorded in `messages` when its body has been received, before the reply.
 */
export async function startSmtpSink(
  onMessage: (mail: ReceivedMail, index: number) => SmtpReply | Promise<SmtpReply> = () => undefined,
  host = '127.0.0.1',
): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers: parseHeaders(raw),
          decoded: decodeQuotedPrintable(raw),
        };
        const index = messages.length;
        messages.push(mail);
        Promise.resolve(onMessage(mail, index)).then(
          (reply) => {
            if (!reply) return callback();
            // The rejected message was not accepted: drop it from the record.
            messages.splice(messages.indexOf(mail), 1);
            callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const port = ((server as unknown as { server: http.Server }).server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://${host}:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface HttpReply {
  status: number;
  body?: unknown;
}

export interface HttpSink {
  port: number;
  url: string;
  requests: ReceivedRequest[];
  /** Requests to one path. */
  on(path: string): ReceivedRequest[];
  close(): Promise<void>;
}

/** Starts an HTTP server recording every request; `reply` decides the answer (default 200 `{id}`). */
export async function startHttpSink(
  reply: (req: ReceivedRequest, index: number) => HttpReply | Promise<HttpReply> = (_r, i) => ({
    status: 200,
    body: { id: `msg-${i}` },
  }),
): Promise<HttpSink> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: ReceivedRequest = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0],
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const index = requests.length;
      requests.push(rec);
      Promise.resolve(reply(rec, index)).then(
        (r) =>
          res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body ?? {})),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    on: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
