import { identifierProblem, quoteInput } from '@kairos/contracts';
import { replyJson, type HttpRoute } from '@kairos/service-kit';
import type { RunDoc, RunStore, TimerStore } from './store';

function view(run: RunDoc) {
  const { _id, ...rest } = run;
  return { runId: _id, ...rest };
}

/** `GET /runs/<runId>` (with pending timers) and `GET /runs?customer=<id>` for run inspection (`kairosctl trace`). */
export function runRoutes(runs: RunStore, timers: TimerStore): HttpRoute {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/runs')) return false;
    if (req.method !== 'GET') return replyJson(res, 405, { error: 'method not allowed; use GET' });
    if (url.pathname === '/runs' || url.pathname === '/runs/') {
      const customer = url.searchParams.get('customer');
      if (!customer) return replyJson(res, 400, { error: "query parameter 'customer' is required" });
      const invalid = identifierProblem('customer', customer);
      if (invalid) return replyJson(res, 400, { error: invalid });
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
      return replyJson(res, 200, { runs: (await runs.forCustomer(customer, limit)).map(view) });
    }
    // HttpServer answered 400 to a path with a malformed escape, so this decodes.
    const runId = decodeURIComponent(url.pathname.slice('/runs/'.length));
    const problem = identifierProblem('run id', runId);
    if (problem) return replyJson(res, 400, { error: problem });
    const run = await runs.get(runId);
    if (!run) return replyJson(res, 404, { error: `run ${quoteInput(runId)} not found` });
    const pending = (await timers.forRun(runId)).map((t) => ({ id: t._id, dueAt: t.dueAt, kind: t.kind }));
    return replyJson(res, 200, { ...view(run), timers: pending });
  };
}
