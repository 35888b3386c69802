import { status } from '@grpc/grpc-js';
import { identifierProblem, quoteInput, type predictions } from '@kairos/contracts';
import {
  inject,
  injectable,
  partitionOwner,
  partitionWorker,
  RpcError,
  TOKENS,
  unaryHandler,
  type Access,
  type Logger,
  type PartitionRuntime,
} from '@kairos/service-kit';
import type { CustomerScore, ModelReport } from './domain/engine';
import { pooledReport } from './domain/report';
import { bestSendHour, populationPrior, type SendTimeEstimate } from './domain/send-time';
import type { PartitionPredictor } from './partition-predictor';
import { PREDICTION_TOKENS } from './tokens';

export const PREDICTION_SERVICE_NAME = 'kairos.predictions.v1.PredictionService';

/**
 * Who may call each method: orchestration asks BestSendTime with a service credential; scores
 * and model reports are for the admin.
 */
export const PREDICTION_SERVICE_ACCESS: Partial<
  Record<keyof typeof predictions.PredictionServiceService, Access>
> = { score: 'admin', modelReport: 'admin', bestSendTime: 'service' };

/** What the gRPC service reads: the partitions this replica runs. */
export type PredictionRuntime = PartitionRuntime<PartitionPredictor>;

const MODELS = ['churn', 'purchase'] as const;

const time = (ms: number) => (Number.isFinite(ms) ? new Date(ms) : undefined);
const finite = (x: number) => (Number.isFinite(x) ? x : 0);

function sendTimeMessage(e: SendTimeEstimate): predictions.BestSendTimeResponse {
  return { bestHour: e.bestHour, evidence: e.evidence };
}

function reportMessage(r: ModelReport, partition: number, pooled: boolean): predictions.ModelReportEntry {
  return {
    model: r.model,
    partition,
    pooled,
    version: r.version,
    examples: r.examples,
    positives: r.positives,
    window: r.window,
    auc: finite(r.auc),
    baselineAuc: finite(r.baselineAuc),
    baseline: r.baseline,
    brier: finite(r.brier),
    ece: finite(r.ece),
    calibration: r.calibration.map((b) => ({
      from: b.from,
      to: b.to,
      count: b.count,
      meanPredicted: finite(b.meanPredicted),
      observedRate: finite(b.observedRate),
    })),
    updatedAt: time(r.updatedAt),
  };
}

/** The score of one customer as the API returns it. */
export function scoreMessage(
  s: CustomerScore,
  partition: number,
  sendTime: SendTimeEstimate,
): predictions.ScoreResponse {
  return {
    customerId: s.customerId,
    asOf: time(s.asOf),
    partition,
    scores: [
      {
        model: 'churn',
        score: s.churn,
        modelVersion: s.churnModelVersion,
        coldStart: s.coldStart.churn,
        baseline: finite(s.baseline.recencyDays),
        baselineName: 'days since last activity',
        contributions: s.churnContributions,
      },
      {
        model: 'purchase',
        score: s.purchase,
        modelVersion: s.purchaseModelVersion,
        coldStart: s.coldStart.purchase,
        baseline: s.baseline.expectedPurchases,
        baselineName: 'BG/NBD expected purchases in the horizon',
        contributions: s.purchaseContributions,
      },
    ],
    features: s.features,
    pAlive: s.baseline.pAlive,
    daysSinceLastActivity: finite(s.baseline.recencyDays),
    sendTime: sendTimeMessage(sendTime),
  };
}

/** The gRPC PredictionService over the engines of this replica's partitions. */
@injectable()
export class PredictionServiceImpl {
  constructor(
    @inject(PREDICTION_TOKENS.Runtime) private readonly runtime: PredictionRuntime,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** The customer id of a request; INVALID_ARGUMENT when it is not a valid identifier. */
  private customerId(req: { customerId: string }): string {
    const problem = identifierProblem('customer_id', req.customerId);
    if (problem) throw new RpcError(status.INVALID_ARGUMENT, problem);
    return req.customerId;
  }

  /** The population prior over every partition this replica runs. */
  private prior(): Float64Array {
    const totals = new Float64Array(24);
    for (const p of this.runtime.workers.values()) {
      const t = p.engine.hourTotals();
      for (let h = 0; h < 24; h++) totals[h] += t[h];
    }
    return populationPrior(totals);
  }

  score(req: predictions.ScoreRequest): predictions.ScoreResponse {
    const { partition: p, worker: predictor } = partitionOwner(this.runtime, this.customerId(req));
    const s = predictor.engine.score(req.customerId);
    if (!s) throw new RpcError(status.NOT_FOUND, `customer_id ${quoteInput(req.customerId)}: no events seen`);
    return scoreMessage(s, p, predictor.engine.sendTime(req.customerId, this.prior()));
  }

  modelReport(req: predictions.ModelReportRequest): predictions.ModelReportResponse {
    if (req.model && !(MODELS as readonly string[]).includes(req.model))
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `model: expected churn or purchase (or empty for both), got ${quoteInput(req.model)}`,
      );
    const models = req.model ? [req.model as (typeof MODELS)[number]] : MODELS;
    const predictors = [...this.runtime.workers.values()].sort((a, b) => a.partition - b.partition);
    const reports: predictions.ModelReportEntry[] = [];
    for (const model of models) {
      reports.push(
        reportMessage(
          pooledReport(
            model,
            predictors.map((p) => p.engine),
          ),
          0,
          true,
        ),
      );
      for (const p of predictors) reports.push(reportMessage(p.engine.report(model), p.partition, false));
    }
    return { reports };
  }

  bestSendTime(req: predictions.BestSendTimeRequest): predictions.BestSendTimeResponse {
    const { worker: predictor } = partitionWorker(this.runtime, this.customerId(req));
    const prior = this.prior();
    // Another replica's customer: this replica's population is the prior it would smooth towards.
    if (!predictor) return sendTimeMessage(bestSendHour(new Float64Array(24), prior));
    return sendTimeMessage(predictor.engine.sendTime(req.customerId, prior));
  }

  handlers(): predictions.PredictionServiceServer {
    return {
      score: unaryHandler('Score', (r: predictions.ScoreRequest) => this.score(r), this.logger),
      modelReport: unaryHandler(
        'ModelReport',
        (r: predictions.ModelReportRequest) => this.modelReport(r),
        this.logger,
      ),
      bestSendTime: unaryHandler(
        'BestSendTime',
        (r: predictions.BestSendTimeRequest) => this.bestSendTime(r),
        this.logger,
      ),
    };
  }
}
