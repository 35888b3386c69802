/**
 * The dashboard over the service's HTTP server: `/` is the page, `/assets/*` its script, style and
 * the Chart.js bundle (served from the installed package, so the page works without internet),
 * and `/api/<measure>` the reports as JSON (the proto's JSON mapping), with the query in the URL:
 * `from`, `to` (ISO 8601) or `period` (`24h`, `7d`), `group_by`, `granularity`, `model`, `limit`,
 * and repeatable `trigger`, `workflow`, `channel`, `variant`. A bad query answers 400 naming the field.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { dirname, join } from 'node:path';
import { parseDurationMs, type HttpRoute } from '@kairos/service-kit';
import { MEASURES, QueryError, type Measure, type RawQuery } from './domain/query';
import { REPORT_JSON, type ReportService } from './report-service';

const DASHBOARD_DIR = join(__dirname, '..', '..', 'dashboard');
const CHART_JS = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: join(DASHBOARD_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/assets/dashboard.js': {
    file: join(DASHBOARD_DIR, 'dashboard.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/assets/dashboard.css': { file: join(DASHBOARD_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/assets/chart.umd.min.js': { file: CHART_JS, type: 'text/javascript; charset=utf-8' },
};

/** The URL's query parameters as a report query. */
export function queryFromUrl(url: URL, nowMs: number): RawQuery {
  const p = url.searchParams;
  const time = (name: string): number | undefined => {
    const v = p.get(name);
    if (v === null || v === '') return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new QueryError(`query.${name}`, `'${v}' is not an ISO 8601 time`);
    return t;
  };
  let fromMs = time('from');
  const toMs = time('to');
  const period = p.get('period');
  if (period && fromMs === undefined) {
    const ms = parseDurationMs(period);
    if (ms === undefined)
      throw new QueryError('query.period', `'${period}' is not a duration like 24h or 7d`);
    fromMs = (toMs ?? nowMs) - ms;
  }
  const limit = p.get('limit');
  if (limit !== null && !/^\d+$/.test(limit))
    throw new QueryError('query.limit', `'${limit}' is not a whole number`);
  return {
    fromMs,
    toMs,
    groupBy: p.get('group_by') ?? undefined,
    granularity: p.get('granularity') ?? undefined,
    model: p.get('model') ?? undefined,
    limit: limit === null ? undefined : Number(limit),
    filters: {
      triggers: p.getAll('trigger').filter(Boolean),
      workflows: p.getAll('workflow').filter(Boolean),
      channels: p.getAll('channel').filter(Boolean),
      variants: p.getAll('variant').filter(Boolean),
    },
  };
}

function send(res: http.ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

export function dashboardRoute(reports: ReportService, now: () => number): HttpRoute {
  const cache = new Map<string, Buffer>();
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const asset = ASSETS[url.pathname];
    if (asset) {
      let body = cache.get(asset.file);
      if (!body) cache.set(asset.file, (body = readFileSync(asset.file)));
      send(res, 200, asset.type, body);
      return true;
    }
    if (url.pathname === '/api/dimensions') {
      send(res, 200, 'application/json', JSON.stringify(reports.dimensions()));
      return true;
    }
    const m = /^\/api\/([a-z]+)$/.exec(url.pathname);
    if (!m) return false;
    const measure = m[1] as Measure;
    if (!MEASURES.includes(measure)) {
      send(
        res,
        404,
        'application/json',
        JSON.stringify({ error: `unknown measure '${m[1]}' (one of ${MEASURES.join(', ')})` }),
      );
      return true;
    }
    try {
      const report = reports.run(measure, queryFromUrl(url, now()));
      send(
        res,
        200,
        'application/json',
        JSON.stringify((REPORT_JSON[measure] as (r: unknown) => unknown)(report)),
      );
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      send(res, 400, 'application/json', JSON.stringify({ error: err.message, field: err.field }));
    }
    return true;
  };
}
