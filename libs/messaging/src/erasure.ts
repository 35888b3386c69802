import { randomUUID } from 'node:crypto';
import {
  erasureConsumer,
  partitionOf,
  SCHEMAS,
  subjects,
  type privacy,
  type ProvisionMode,
} from '@kairos/contracts';
import type { NatsConnection } from '@nats-io/nats-core';
import { ConsumeLoop } from './consumer';
import type { Logger } from './logger';
import { consumerCaughtUp, type DurableRef } from './partition-replay';
import type { Publisher } from './publisher';

/** How long an erase command waits for the service's input backlog to be consumed before it erases. */
export const ERASURE_CATCH_UP_MS = 20_000;
const CATCH_UP_POLL_MS = 200;

/** What a service removed of one customer, by store (collection, engine, checkpoint...). */
export type ErasedCounts = Record<string, number>;

/**
 * Removes everything a service holds of one customer. It must be idempotent (a redelivered command
 * runs it again and finds nothing) and durable when it resolves: the command is acked after it.
 */
export type EraseCustomer = (customerId: string, partition: number | undefined) => Promise<ErasedCounts>;

export interface ErasureConsumerOptions {
  /** The service name (`privacy.erased.<service>`, durable `<service>-erase[-pNN]`). */
  service: string;
  /**
   * The partitions whose commands this replica handles, for services that keep per-customer state
   * in memory per partition (the replica that owns the partition must erase). Omitted: one durable
   * consumer of every partition's commands, shared by the replicas (state in the database).
   */
  partitions?: number[];
  erase: EraseCustomer;
  /** `external`: bind to the consumers the provisioning Job made (see ConsumeLoopOptions). */
  provision?: ProvisionMode;
  /**
   * The service's input consumers that may still hold the customer's older messages (for a
   * partitioned service, those of the partition). The command waits (at most ERASURE_CATCH_UP_MS)
   * until they have nothing pending, so a service that was down erases after replaying its backlog,
   * not before it (a replay would bring the customer back).
   */
  inputs?: (partition: number | undefined) => DurableRef[];
  publisher: Publisher;
  logger: Logger;
}

/**
 * Consumes `privacy.erase.<p>` with durable consumers, so a command published while the service was
 * down is handled when it comes back, runs `erase` and acknowledges on `privacy.erased.<service>`
 * with what it removed. The acknowledgement's msg id is `<erasure id>:<service>`: a redelivered
 * command acknowledges once.
 */
export class ErasureConsumer {
  private readonly loops: Array<ConsumeLoop<privacy.EraseRequested>>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ErasureConsumerOptions,
  ) {
    const targets: Array<number | undefined> = opts.partitions ?? [undefined];
    this.loops = targets.map(
      (p) =>
        new ConsumeLoop<privacy.EraseRequested>(nc, {
          spec: erasureConsumer(opts.service, p),
          provision: opts.provision,
          schema: SCHEMAS.EraseRequested,
          mode: { kind: 'ordered' },
          logger: opts.logger,
          publisher: opts.publisher,
          handler: (cmd) => this.handle(cmd, p),
        }),
    );
  }

  async start(): Promise<void> {
    for (const l of this.loops) await l.start();
  }

  async drain(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.drain()));
  }

  private async handle(cmd: privacy.EraseRequested, partition: number | undefined): Promise<void> {
    const { service, publisher, logger } = this.opts;
    await this.waitForInputs(partition);
    const removed = await this.opts.erase(cmd.customerId, partition);
    await publisher.publish(
      subjects.privacyErased(service),
      SCHEMAS.CustomerErased,
      { erasureId: cmd.erasureId, service, removed, erasedAt: new Date() },
      { msgId: `${cmd.erasureId}:${service}` },
    );
    // The erasure id, not the customer id: logs must not keep what was just erased.
    logger.info({ erasureId: cmd.erasureId, removed }, 'customer erased');
  }

  private async waitForInputs(partition: number | undefined): Promise<void> {
    const refs = this.opts.inputs?.(partition) ?? [];
    const deadline = Date.now() + ERASURE_CATCH_UP_MS;
    for (const ref of refs) {
      while (!(await consumerCaughtUp(this.nc, ref).catch(() => false))) {
        if (Date.now() >= deadline) {
          this.opts.logger.warn({ consumer: ref.durable }, 'erasing before the input backlog was consumed');
          return;
        }
        await new Promise((r) => setTimeout(r, CATCH_UP_POLL_MS));
      }
    }
  }
}

/**
 * Publishes the erase command of a customer to `privacy.erase.<partition of the customer>`; returns
 * its erasure id. A retried publish carries the same msg id, so the command is stored once.
 */
export async function requestErasure(
  publisher: Publisher,
  customerId: string,
  partitions: number,
  erasureId: string = randomUUID(),
): Promise<string> {
  await publisher.publish(
    subjects.privacyErase(partitionOf(customerId, partitions)),
    SCHEMAS.EraseRequested,
    { erasureId, customerId, requestedAt: new Date() },
    { msgId: erasureId },
  );
  return erasureId;
}
