import * as grpc from '@grpc/grpc-js';
import { inject, injectable } from '@kairos/service-kit';
import {
  identifierProblem,
  isWellFormedText,
  MAX_IDENTIFIER_LENGTH,
  quoteInput,
  type profiles,
} from '@kairos/contracts';
import { TOKENS, type Access, type Clock, type Logger } from '@kairos/service-kit';
import { requestErasure, type Publisher } from '@kairos/messaging';
import { ERASURE_SERVICES } from '@kairos/contracts';
import { CommunicationLog } from './communications';
import { CustomerEraser } from './erasure';
import { JourneyClassifier } from './domain/journey';
import type { ProfileBudget } from './domain/profile-budget';
import {
  applyUpsert,
  communicationFromProto,
  communicationToProto,
  FieldError,
  newProfile,
  toProto,
  type ProfileDoc,
} from './domain/profile-model';
import { ProfileStore } from './profile-store';
import { ProfileWriteBehind } from './profile-writer';
import { TimeEventScheduler } from './time-events';
import { ENRICHMENT_TOKENS } from './tokens';

export const PROFILE_SERVICE_NAME = 'kairos.profiles.v1.ProfileService';

/**
 * Who may call each method: reads that orchestration makes for every run take a service
 * credential (or the admin's); writes and erasure (Delete) need the admin credential.
 */
export const PROFILE_SERVICE_ACCESS: Partial<Record<keyof typeof profiles.ProfileServiceService, Access>> = {
  get: 'service',
  batchGet: 'service',
  history: 'service',
  upsert: 'admin',
  recordCommunication: 'admin',
  delete: 'admin',
};
const MAX_BATCH = 1_000;

class NotFoundError extends Error {}

/** An identifierProblem (`<field>: <rule>`) as the FieldError it is. */
function fieldError(problem: string): FieldError {
  const colon = problem.indexOf(': ');
  return new FieldError(problem.slice(0, colon), problem.slice(colon + 2));
}

/**
 * A customer id that a write may create: the identifier rules ingest applies to events (length,
 * well-formed text, no whitespace or control characters), so every profile is reachable by events.
 */
function requireNewCustomerId(id: string | undefined, field = 'customer_id'): string {
  const problem = identifierProblem(field, id ?? '');
  if (problem) throw fieldError(problem);
  return id!;
}

/** A customer id to look up or erase: bounded and well-formed, any characters (ids made earlier stay reachable). */
function requireCustomerId(id: string | undefined, field = 'customer_id'): string {
  if (!id) throw new FieldError(field, 'must not be empty');
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    throw new FieldError(field, `at most ${MAX_IDENTIFIER_LENGTH} characters, got ${id.length}`);
  }
  if (!isWellFormedText(id)) throw new FieldError(field, 'not valid UTF-8 (holds a lone surrogate)');
  return id;
}

/** ProfileService over gRPC: synchronous lookups and updates of profiles and history. */
@injectable()
export class ProfileServiceImpl {
  constructor(
    @inject(ProfileStore) private readonly store: ProfileStore,
    @inject(ProfileWriteBehind) private readonly writer: ProfileWriteBehind,
    @inject(CommunicationLog) private readonly comms: CommunicationLog,
    @inject(TimeEventScheduler) private readonly scheduler: TimeEventScheduler,
    @inject(JourneyClassifier) private readonly journey: JourneyClassifier,
    @inject(ENRICHMENT_TOKENS.Budget) private readonly budget: ProfileBudget,
    @inject(CustomerEraser) private readonly eraser: CustomerEraser,
    @inject(TOKENS.Publisher) private readonly publisher: Publisher,
    @inject(ENRICHMENT_TOKENS.Partitions) private readonly partitions: number,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** The journey stage depends on time (at_risk, churned), so reads recompute it. */
  private snapshot(doc: ProfileDoc): profiles.Profile {
    return toProto(doc, this.journey.classify(doc, this.clock.now()));
  }

  async get(req: profiles.GetRequest): Promise<profiles.GetResponse> {
    const id = requireCustomerId(req.customerId);
    // This replica's events not yet written count too (other replicas see them once written).
    const doc = this.writer.unwrittenProfile(id) ?? (await this.store.read(id));
    if (!doc) throw new NotFoundError(`profile of customer ${quoteInput(id)} not found`);
    return { profile: this.snapshot(doc) };
  }

  async batchGet(req: profiles.BatchGetRequest): Promise<profiles.BatchGetResponse> {
    if (req.customerIds.length > MAX_BATCH)
      throw new FieldError('customer_ids', `at most ${MAX_BATCH} ids per call`);
    req.customerIds.forEach((id, i) => requireCustomerId(id, `customer_ids[${i}]`));
    const unique = [...new Set(req.customerIds)];
    const docs = new Map((await this.store.readMany(unique)).map((d) => [d._id, d]));
    for (const id of unique) {
      const unwritten = this.writer.unwrittenProfile(id);
      if (unwritten) docs.set(id, unwritten);
    }
    return {
      profiles: unique.filter((id) => docs.has(id)).map((id) => this.snapshot(docs.get(id)!)),
      missingCustomerIds: unique.filter((id) => !docs.has(id)),
    };
  }

  async upsert(req: profiles.UpsertRequest): Promise<profiles.UpsertResponse> {
    const id = requireNewCustomerId(req.customerId);
    const now = new Date(this.clock.now());
    const { previous, profile } = await this.store.update(id, (current) => {
      // Within the size budget, or INVALID_ARGUMENT naming the field (BudgetError is a FieldError).
      const next = applyUpsert(current ?? newProfile(id, now), req, now, this.budget);
      next.journey_stage = this.journey.classify(next, now.getTime());
      return { next, result: undefined };
    });
    if (TimeEventScheduler.affects(previous, profile!)) await this.scheduler.syncProfile(profile!, previous);
    return { profile: this.snapshot(profile!), created: !previous };
  }

  async recordCommunication(
    req: profiles.RecordCommunicationRequest,
  ): Promise<profiles.RecordCommunicationResponse> {
    const id = requireNewCustomerId(req.customerId);
    if (!req.communication) throw new FieldError('communication', 'is required');
    const c = req.communication;
    const problem =
      identifierProblem('communication.action_id', c.actionId) ??
      (['workflow', 'trigger', 'channel', 'status', 'template'] as const)
        .filter((f) => c[f] !== '')
        .map((f) => identifierProblem(`communication.${f}`, c[f]))
        .find((p) => p !== undefined);
    if (problem) throw fieldError(problem);
    const recorded = await this.comms.record(
      id,
      communicationFromProto(req.communication, new Date(this.clock.now())),
    );
    return { recorded };
  }

  async history(req: profiles.HistoryRequest): Promise<profiles.HistoryResponse> {
    const id = requireCustomerId(req.customerId);
    const list = await this.comms.history(id, {
      since: req.since,
      channel: req.channel,
      workflow: req.workflow,
      status: req.status,
      limit: req.limit,
    });
    return { communications: list.map(communicationToProto) };
  }

  /**
   * Erases enrichment's part at once, then publishes the durable erase command every service with
   * per-customer state consumes (enrichment too: the replica that owns the customer's partition
   * drops what it holds in memory). Calling it again erases again (a new erasure id).
   */
  async delete(req: profiles.DeleteRequest): Promise<profiles.DeleteResponse> {
    const id = requireCustomerId(req.customerId);
    const removed = await this.eraser.erase(id);
    const erasureId = await requestErasure(this.publisher, id, this.partitions);
    // The erasure id, never the customer id: logs must not keep what was just erased.
    this.logger.info({ erasureId, removed }, 'customer erased here; erasure sent to the services');
    return {
      deleted: removed.profiles > 0,
      communicationsDeleted: removed.communications,
      timeOccurrencesDeleted: removed.time_occurrences,
      erasureId,
      services: [...ERASURE_SERVICES],
    };
  }

  /** The grpc-js handlers, mapping errors to status codes. */
  handlers(): profiles.ProfileServiceServer {
    const unary =
      <Req, Res>(fn: (req: Req) => Promise<Res>) =>
      (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
        fn.call(this, call.request).then(
          (res) => cb(null, res),
          (err: Error) => cb(this.toStatus(err)),
        );
      };
    return {
      get: unary(this.get),
      batchGet: unary(this.batchGet),
      upsert: unary(this.upsert),
      recordCommunication: unary(this.recordCommunication),
      history: unary(this.history),
      delete: unary(this.delete),
    };
  }

  private toStatus(err: Error): Partial<grpc.StatusObject> {
    if (err instanceof FieldError) return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
    if (err instanceof NotFoundError) return { code: grpc.status.NOT_FOUND, details: err.message };
    this.logger.error({ err: err.message, stack: err.stack }, 'ProfileService call failed');
    return { code: grpc.status.INTERNAL, details: err.message };
  }
}
