/** gRPC AnalyticsService: every measure for a ReportQuery; bad input is INVALID_ARGUMENT naming the field. */
import { status } from '@grpc/grpc-js';
import { identifierProblem, type analytics } from '@kairos/contracts';
import { unaryHandler, type Logger } from '@kairos/service-kit';
import { QueryError, type Measure, type RawQuery } from './domain/query';
import type { ReportService } from './report-service';

export const ANALYTICS_SERVICE_NAME = 'kairos.analytics.v1.AnalyticsService';

/** A ReportQuery as the domain reads it; filter values are checked as identifiers. */
export function rawQuery(q: analytics.ReportQuery | undefined): RawQuery {
  if (!q) return {};
  const f = q.filters;
  for (const [name, list] of [
    ['triggers', f?.triggers ?? []],
    ['workflows', f?.workflows ?? []],
    ['channels', f?.channels ?? []],
    ['variants', f?.variants ?? []],
  ] as const) {
    list.forEach((v, i) => {
      const problem = identifierProblem(`query.filters.${name}[${i}]`, v);
      if (problem) throw new QueryError(`query.filters.${name}[${i}]`, problem.replace(/^[^:]*: /, ''));
    });
  }
  return {
    fromMs: q.from?.getTime(),
    toMs: q.to?.getTime(),
    groupBy: q.groupBy,
    filters: f,
    granularity: q.granularity,
    model: q.attributionModel,
    limit: q.limit,
  };
}

export function analyticsHandlers(reports: ReportService, logger: Logger): analytics.AnalyticsServiceServer {
  const queryError = (err: unknown) => (err instanceof QueryError ? status.INVALID_ARGUMENT : undefined);
  const answer = <Req, Res>(name: string, fn: (req: Req) => Res) =>
    unaryHandler(name, fn, logger, queryError);
  const measure = <M extends Measure>(m: M) =>
    answer(m, (req: { query?: analytics.ReportQuery }) => ({ report: reports.run(m, rawQuery(req.query)) }));
  return {
    volume: measure('volume'),
    funnel: measure('funnel'),
    lift: measure('lift'),
    timing: measure('timing'),
    roi: measure('roi'),
    reasons: measure('reasons'),
    attribution: measure('attribution'),
    outcomes: measure('outcomes'),
    traceAttribution: answer('traceAttribution', (req: analytics.TraceAttributionRequest) => ({
      report: reports.trace(req.id, req.attributionModel),
    })),
  };
}
