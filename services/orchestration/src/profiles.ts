import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { counter } from '@kairos/telemetry';
import type { SentRecord } from './domain/caps';

/** Statuses of a communication that count as a message the customer received. */
const COUNTED = new Set(['sent', 'delivered', 'opened', 'clicked']);

export interface CustomerLookup {
  /** Undefined when the lookup failed: use the snapshot carried by the trigger. */
  profile?: profiles.Profile;
  /** Undefined when unknown: caps are evaluated on the local ledger only. */
  history?: SentRecord[];
  /** Parts that fell back, for logs. */
  fallbacks: string[];
}

export interface ProfileGateway {
  lookup(customerId: string, historySinceMs: number): Promise<CustomerLookup>;
  close(): void;
}

const profileFallbacks = counter(
  'kairos_orchestration_profile_fallback_total',
  'ProfileService lookups that failed or timed out, by part (profile | history); the run used its fallback',
  ['part'],
);

export function toSentRecords(comms: readonly profiles.Communication[]): SentRecord[] {
  return comms
    .filter((c) => COUNTED.has(c.status))
    .map((c) => ({
      actionId: c.actionId,
      workflow: c.workflow,
      at: c.at?.getTime() ?? 0,
      transactional: c.transactional,
    }));
}

/** ProfileService over gRPC; every call carries a deadline so a slow profile store never stalls a run. */
export class GrpcProfileGateway implements ProfileGateway {
  private readonly client: profiles.ProfileServiceClient;

  constructor(
    address: string,
    private readonly deadlineMs: number,
  ) {
    this.client = new profiles.ProfileServiceClient(address, credentials.createInsecure());
  }

  private call<Req, Res>(
    method: (
      req: Req,
      md: Metadata,
      opts: { deadline: number },
      cb: (e: ServiceError | null, r: Res) => void,
    ) => unknown,
    req: Req,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) =>
      method.call(this.client, req, new Metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  async lookup(customerId: string, historySinceMs: number): Promise<CustomerLookup> {
    const [profile, history] = await Promise.allSettled([
      this.call(this.client.get, profiles.GetRequest.fromPartial({ customerId })),
      this.call(
        this.client.history,
        profiles.HistoryRequest.fromPartial({ customerId, since: new Date(historySinceMs), limit: 500 }),
      ),
    ]);
    const out: CustomerLookup = { fallbacks: [] };
    if (profile.status === 'fulfilled' && profile.value.profile) out.profile = profile.value.profile;
    else {
      out.fallbacks.push(
        `profile: ${profile.status === 'rejected' ? (profile.reason as Error).message : 'not found'}`,
      );
      profileFallbacks.inc({ part: 'profile' });
    }
    if (history.status === 'fulfilled') out.history = toSentRecords(history.value.communications);
    else {
      out.fallbacks.push(`history: ${(history.reason as Error).message}`);
      profileFallbacks.inc({ part: 'history' });
    }
    return out;
  }

  close(): void {
    this.client.close();
  }
}

/** No ProfileService (benchmarks, KAIROS_PROFILE_ADDR=none): always the documented fallback. */
export class NoProfileGateway implements ProfileGateway {
  async lookup(): Promise<CustomerLookup> {
    return { fallbacks: [] };
  }
  close(): void {}
}
