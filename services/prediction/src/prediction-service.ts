import { status, type handleUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { identifierProblem, partitionOf, quoteInput, type predictions } from '@kairos/contracts';
import { inject, injectable, TOKENS, type Access, type Logger } from '@kairos/service-kit';
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
export interface PredictionRuntime {
  partitions: number;
  replicaOrdinal: number;
  replicas: number;
  predictors: Map<number, PartitionPredictor>;
}

const MODELS = ['churn', 'purchase'] as const;

class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function unary<Req, Res>(fn: (req: Req) => Res, logger: Logger, name: string): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    try {
      callback(null, fn(call.request));
    } catch (err) {
      if (err instanceof RpcError) return callback({ code: err.code, details: err.message } as ServiceError);
      logger.error({ rpc: name, err: (err as Error).message }, 'rpc failed');
      callback({ code: status.INTERNAL, details: (err as Error).message } as ServiceError);
    }
  };
}

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

  /** The customer's predictor; INVALID_ARGUMENT for a bad id, FAILED_PRECONDITION naming the owner. */
  private owner(customerId: string): PartitionPredictor | undefined {
    const problem = identifierProblem('customer_id', customerId);
    if (problem) throw new RpcError(status.INVALID_ARGUMENT, problem);
    return this.runtime.predictors.get(partitionOf(customerId, this.runtime.partitions));
  }

  /** The population prior over every partition this replica runs. */
  private prior(): Float64Array {
    const totals = new Float64Array(24);
    for (const p of this.runtime.predictors.values()) {
      const t = p.engine.hourTotals();
      for (let h = 0; h < 24; h++) totals[h] += t[h];
    }
    return populationPrior(totals);
  }

  score(req: predictions.ScoreRequest): predictions.ScoreResponse {
    const predictor = this.owner(req.customerId);
    const p = partitionOf(req.customerId, this.runtime.partitions);
    if (!predictor) {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `customer_id ${quoteInput(req.customerId)} is in partition ${p}, owned by replica ${p % this.runtime.replicas}; ` +
          `this is replica ${this.runtime.replicaOrdinal}`,
      );
    }
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
    const predictors = [...this.runtime.predictors.values()].sort((a, b) => a.partition - b.partition);
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
    const predictor = this.owner(req.customerId);
    const prior = this.prior();
    // Another replica's customer: this replica's population is the prior it would smooth towards.
    if (!predictor) return sendTimeMessage(bestSendHour(new Float64Array(24), prior));
    return sendTimeMessage(predictor.engine.sendTime(req.customerId, prior));
  }

  handlers(): predictions.PredictionServiceServer {
    return {
      score: unary((r: predictions.ScoreRequest) => this.score(r), this.logger, 'Score'),
      modelReport: unary(
        (r: predictions.ModelReportRequest) => this.modelReport(r),
        this.logger,
        'ModelReport',
      ),
      bestSendTime: unary(
        (r: predictions.BestSendTimeRequest) => this.bestSendTime(r),
        this.logger,
        'BestSendTime',
      ),
    };
  }
}
