import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { readBody, replyJson, type HttpRoute } from './http-server';
import { bearerToken, type Access, type AccessControl } from './security';

export const SESSION_COOKIE = 'kairos_session';
/** How long a login lasts. */
export const SESSION_TTL_MS = 8 * 3_600_000;
/** Sessions kept at once; the oldest goes first (a login form is not a way to fill the heap). */
const MAX_SESSIONS = 1_000;
const MAX_LOGIN_BYTES = 4_096;

const LOGIN_PAGE = (problem: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kairos: log in</title></head>
<body><main><h1>Kairos</h1>
<form method="post" action="/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>${problem ? `<p role="alert">${problem}</p>` : ''}
</main></body></html>`;

function cookieValue(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/**
 * Puts HTTP routes behind the admin credential: a request passes with `authorization: Bearer
 * <admin token>` or with the session cookie a login sets. `GET /login` is a form; `POST /login`
 * with the admin token sets an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) and redirects
 * to `/`; `POST /logout` ends the session. Without a credential, `/api/*` answers 401 saying what
 * to send and pages redirect to the form. Add it before the routes it guards.
 */
export class AdminSessions {
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly access: AccessControl,
    private readonly options: { secure: boolean; now?: () => number },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private valid(req: http.IncomingMessage): boolean {
    if (this.access.isAdminToken(bearerToken(req.headers.authorization))) return true;
    const id = cookieValue(req, SESSION_COOKIE);
    const expires = id === undefined ? undefined : this.sessions.get(id);
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    this.sessions.delete(id!);
    return false;
  }

  private cookie(value: string, maxAgeS: number): string {
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${this.options.secure ? '; Secure' : ''}`;
  }

  private startSession(): string {
    const now = this.now();
    for (const [id, expires] of this.sessions) if (expires <= now) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, now + SESSION_TTL_MS);
    return id;
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<true> {
    const body = await readBody(req, MAX_LOGIN_BYTES);
    const token = body === undefined ? undefined : new URLSearchParams(body.toString('utf8')).get('token');
    if (!token || !this.access.isAdminToken(token.trim())) {
      res
        .writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(LOGIN_PAGE('That is not the admin token.'));
      return true;
    }
    res
      .writeHead(303, {
        location: '/',
        'set-cookie': this.cookie(this.startSession(), SESSION_TTL_MS / 1000),
      })
      .end();
    return true;
  }

  readonly route: HttpRoute = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/login') {
      if (req.method === 'POST') return this.login(req, res);
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(LOGIN_PAGE(''));
      return true;
    }
    if (path === '/logout' && req.method === 'POST') {
      const id = cookieValue(req, SESSION_COOKIE);
      if (id) this.sessions.delete(id);
      res.writeHead(303, { location: '/login', 'set-cookie': this.cookie('', 0) }).end();
      return true;
    }
    if (this.valid(req)) return false;
    if (path.startsWith('/api/')) {
      res.setHeader('www-authenticate', 'Bearer');
      return replyJson(res, 401, {
        error: 'admin credential required: log in at /login or send "authorization: Bearer <admin token>"',
      });
    }
    res.writeHead(303, { location: '/login' }).end();
    return true;
  };
}

/**
 * Puts the routes under `prefix` behind a bearer token (API routes called by tools and backends,
 * such as orchestration's `/runs` or delivery's `/inbox`): `need` is `admin`, or `service` (a
 * service token or the admin's). Without one they answer 401, with a token lacking the right 403,
 * saying what to send.
 */
export function requireBearer(
  access: AccessControl,
  need: Exclude<Access, 'public'>,
  prefix: string,
  route: HttpRoute,
): HttpRoute {
  return (req, res) => {
    if (!(req.url ?? '/').startsWith(prefix)) return false;
    const decision = access.decide(need, prefix, bearerToken(req.headers.authorization));
    if (decision.ok) return route(req, res);
    res.setHeader('www-authenticate', 'Bearer');
    const error = decision.message.replace(
      "send metadata 'authorization: Bearer <token>' or an mTLS client certificate",
      `send "authorization: Bearer <${need === 'admin' ? 'admin' : 'admin or service'} token>"`,
    );
    return replyJson(res, decision.code === 'unauthenticated' ? 401 : 403, { error });
  };
}
