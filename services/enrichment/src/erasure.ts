import { inject, injectable } from '@kairos/service-kit';
import type { ErasedCounts } from '@kairos/messaging';
import { CommunicationLog } from './communications';
import { ProfileStore } from './profile-store';
import { ProfileWriteBehind } from './profile-writer';
import { TimeEventScheduler } from './time-events';

/**
 * Erases what enrichment holds of one customer: the profile (stored and cached), the communication
 * history and the time-based event occurrences. Changes waiting in the write-behind are written
 * first, so a flush after the erasure cannot bring the profile back. Idempotent.
 */
@injectable()
export class CustomerEraser {
  constructor(
    @inject(ProfileStore) private readonly store: ProfileStore,
    @inject(ProfileWriteBehind) private readonly writer: ProfileWriteBehind,
    @inject(CommunicationLog) private readonly comms: CommunicationLog,
    @inject(TimeEventScheduler) private readonly scheduler: TimeEventScheduler,
  ) {}

  async erase(customerId: string): Promise<ErasedCounts> {
    if (this.writer.unwrittenProfile(customerId)) await this.writer.flushNow();
    const communications = await this.comms.deleteCustomer(customerId);
    const timeOccurrences = await this.scheduler.deleteCustomer(customerId);
    const profiles = (await this.store.delete(customerId)) ? 1 : 0;
    return { profiles, communications, time_occurrences: timeOccurrences };
  }
}
