/** Durable timers (`timers`) and their lease claims (`timer_claims`). */
import type { Collection, Db } from 'mongodb';
import type { TimerDoc } from './documents';
import { isDuplicateKey } from '@kairos/service-kit';

/** Durable timers of runs (`step`) and of arbitration windows (`settle`), claimed with leases. */
export class TimerStore {
  readonly timers: Collection<TimerDoc>;
  readonly claims: Collection<{ _id: string; timerId: string; owner: string; at: Date }>;
  private readonly scheduled: Array<(dueAtMs: number) => void> = [];
  constructor(db: Db) {
    this.timers = db.collection<TimerDoc>('timers');
    this.claims = db.collection<{ _id: string; timerId: string; owner: string; at: Date }>('timer_claims');
  }

  async init(): Promise<void> {
    await this.timers.createIndex({ partition: 1, dueAt: 1 });
    await this.timers.createIndex({ runId: 1 });
    await this.timers.createIndex({ customerId: 1 });
    await this.claims.createIndex({ timerId: 1 });
    await this.claims.createIndex({ at: 1 });
  }

  /** Idempotent: scheduling the same timer id twice keeps the first. */
  async schedule(t: Omit<TimerDoc, 'leaseUntil' | 'attempts'>): Promise<void> {
    try {
      await this.timers.insertOne({ ...t, leaseUntil: new Date(0), attempts: 0 });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return;
    }
    for (const listener of this.scheduled) listener(t.dueAt.getTime());
  }

  /** Calls `listener` with the due time of every timer this process schedules. */
  onScheduled(listener: (dueAtMs: number) => void): void {
    this.scheduled.push(listener);
  }

  /**
   * The earliest time a timer of these partitions can be claimed (due, and its lease ended), among
   * the 16 due first; undefined when there is none. Callers cap their wait: a later-due timer with
   * a shorter lease is not looked at.
   */
  async nextClaimableAt(partitions: number[]): Promise<number | undefined> {
    const first = await this.timers
      .find({ partition: { $in: partitions } }, { projection: { dueAt: 1, leaseUntil: 1 } })
      .sort({ dueAt: 1 })
      .limit(16)
      .toArray();
    let at: number | undefined;
    for (const t of first) {
      const claimable = Math.max(t.dueAt.getTime(), t.leaseUntil.getTime());
      if (at === undefined || claimable < at) at = claimable;
    }
    return at;
  }

  /**
   * Claims the earliest due timers (at most `max`) of the given partitions whose lease is free, from
   * one look at the collection (a look per timer was a full scan each on FerretDB). A claim is
   * an insert into `timer_claims` with a unique `_id` (`<timer>#<n>`): exactly one claimer wins
   * each lease, because a unique-key insert is atomic on every MongoDB-wire server, whereas a
   * conditional update (findOneAndUpdate) is not on FerretDB's SQLite backend (the integration
   * test with competing replicas showed double claims). A lease that ran out (its holder died or is
   * too slow) is taken over by claiming `<timer>#<n+1>`.
   */
  async claimDue(
    partitions: number[],
    nowMs: number,
    leaseMs: number,
    owner: string,
    max = 1,
  ): Promise<TimerDoc[]> {
    const now = new Date(nowMs);
    // One sorted look for the whole batch: on FerretDB's SQLite backend it scans the collection.
    const candidates = await this.timers
      .find({ partition: { $in: partitions }, dueAt: { $lte: now }, leaseUntil: { $lte: now } })
      .sort({ dueAt: 1 })
      .limit(Math.max(16, max * 2))
      .toArray();
    const claimed: TimerDoc[] = [];
    for (const t of candidates) {
      if (claimed.length >= max) break;
      for (let seq = t.attempts; seq < t.attempts + 16; seq++) {
        const claimId = `${t._id}#${seq}`;
        try {
          await this.claims.insertOne({ _id: claimId, timerId: t._id, owner, at: now });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          const held = await this.claims.findOne({ _id: claimId });
          if (held && held.at.getTime() + leaseMs > nowMs) break; // someone holds this lease
          continue; // expired claim: take the next lease
        }
        const leaseUntil = new Date(nowMs + leaseMs);
        if (!(await this.timers.findOne({ _id: t._id }))) break; // fired and completed meanwhile
        await this.timers.updateOne({ _id: t._id }, { $set: { leaseUntil, owner, attempts: seq + 1 } });
        claimed.push({ ...t, leaseUntil, owner, attempts: seq + 1 });
        break;
      }
    }
    return claimed;
  }

  /**
   * Done: the timer is removed. Its claims stay (a claimer holding a stale read of the timer must
   * still find its lease taken) until `pruneClaims` drops them a day later.
   */
  async complete(timer: TimerDoc): Promise<void> {
    await this.timers.deleteOne({ _id: timer._id });
  }

  async pruneClaims(olderThanMs: number): Promise<void> {
    await this.claims.deleteMany({ at: { $lt: new Date(olderThanMs) } });
  }

  async cancelForRun(runId: string): Promise<void> {
    await this.timers.deleteMany({ runId });
  }

  async exists(timerId: string): Promise<boolean> {
    return (await this.timers.countDocuments({ _id: timerId }, { limit: 1 })) > 0;
  }

  forRun(runId: string): Promise<TimerDoc[]> {
    return this.timers.find({ runId }).toArray();
  }
}
