import { DeadlineClient, profiles } from '@kairos/contracts';
import { securedChannel, type ClientSecurity } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import type { SentRecord } from './domain/caps';

const historySource = counter(
  'kairos_orchestration_history_source_total',
  "Where a run's recent sends came from: the profile's embedded list (profile) or a History query (history)",
  ['source'],
);

/**
 * Statuses of a communication that count as a message the customer received. `unknown` (a send
 * interrupted on an at-most-once channel) may have reached them, so it counts against caps.
 */
const COUNTED = new Set(['sent', 'unknown', 'delivered', 'opened', 'clicked']);

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

/**
 * ProfileService over gRPC; every call carries a deadline so a slow profile store never stalls a
 * run, and the caller's service credential.
 */
export class GrpcProfileGateway
  extends DeadlineClient<profiles.ProfileServiceClient>
  implements ProfileGateway
{
  constructor(address: string, deadlineMs: number, security: ClientSecurity = {}) {
    super(profiles.ProfileServiceClient, address, deadlineMs, securedChannel(security));
  }

  async lookup(customerId: string, historySinceMs: number): Promise<CustomerLookup> {
    const out: CustomerLookup = { fallbacks: [] };
    try {
      const res = await this.call((c) => c.get, profiles.GetRequest.fromPartial({ customerId }));
      if (!res.profile) throw new Error('not found');
      out.profile = res.profile;
    } catch (err) {
      out.fallbacks.push(`profile: ${(err as Error).message}`);
      profileFallbacks.inc({ part: 'profile' });
    }
    // The profile's embedded list answers when it holds every send of the window: History filters
    // on customer and time, which FerretDB v1 can only answer by scanning every record stored.
    const trimmedAt = out.profile?.communicationsTrimmedAt;
    if (out.profile && (!trimmedAt || trimmedAt.getTime() < historySinceMs)) {
      out.history = toSentRecords(
        out.profile.recentCommunications.filter((c) => (c.at?.getTime() ?? 0) >= historySinceMs),
      );
      historySource.inc({ source: 'profile' });
      return out;
    }
    try {
      const res = await this.call(
        (c) => c.history,
        profiles.HistoryRequest.fromPartial({ customerId, since: new Date(historySinceMs), limit: 500 }),
      );
      out.history = toSentRecords(res.communications);
      historySource.inc({ source: 'history' });
    } catch (err) {
      out.fallbacks.push(`history: ${(err as Error).message}`);
      profileFallbacks.inc({ part: 'history' });
    }
    return out;
  }
}

/** No ProfileService (benchmarks, KAIROS_PROFILE_ADDR=none): always the documented fallback. */
export class NoProfileGateway implements ProfileGateway {
  async lookup(): Promise<CustomerLookup> {
    return { fallbacks: [] };
  }
  close(): void {}
}
