import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Db } from 'mongodb';
import {
  partitionOf,
  SCHEMAS,
  subjects,
  events as ev,
  type actions,
  type events,
  type triggers,
} from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import type { EngagementMessage } from '@kairos/loadgen';
import { waitFor } from '@kairos/testkit';
import { createLogger, type HttpServer } from '@kairos/service-kit';
import { loadAnalyticsConfig, outcomeId, startAnalytics, type AnalyticsApp } from '../../src';
import { OUTCOME_TOKEN } from '@kairos/contracts';

export const PARTITIONS = 4;

/** Writes workflow YAML to a fresh directory (the service loads it with KAIROS_DEFINITIONS_DIR). */
export function definitionsDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-analytics-'));
  writeFileSync(join(dir, 'workflows.yaml'), yaml);
  return dir;
}

export async function start(
  nc: NatsConnection,
  db: Db,
  dir: string,
  opts: { http?: HttpServer; clock?: { now(): number } } = {},
): Promise<AnalyticsApp> {
  const cfg = loadAnalyticsConfig({
    KAIROS_DEFINITIONS_DIR: dir,
    KAIROS_DEFINITIONS_WATCH: 'false',
    KAIROS_PARTITIONS: String(PARTITIONS),
    KAIROS_ANOMALY_CHECK_INTERVAL: '0s',
    KAIROS_CHANNEL_COSTS: 'email=0.001,push=0.0005,sms=0.02',
  });
  return startAnalytics(cfg, { nc, db, logger: createLogger('analytics-test', 'silent'), ...opts });
}

/**
 * Publishes simulated messages on their subjects. Message ids are those the services use, unless
 * `idSuffix` is given: a replay beyond JetStream's duplicate window arrives with an id it has not seen.
 */
export async function publishAll(
  publisher: Publisher,
  list: readonly EngagementMessage[],
  idSuffix = '',
): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (const m of list) pending.push(publishOne(publisher, m, idSuffix));
  await Promise.all(pending);
}

export function publishOne(publisher: Publisher, m: EngagementMessage, idSuffix = ''): Promise<unknown> {
  switch (m.kind) {
    case 'fire': {
      const tf: triggers.TriggerFired = m.message;
      return publisher.publish(
        subjects.triggerFired(partitionOf(tf.customerId, PARTITIONS), tf.trigger),
        SCHEMAS.TriggerFired,
        tf,
        {
          msgId: tf.id + idSuffix,
        },
      );
    }
    case 'request': {
      const a: actions.ActionRequested = m.message;
      return publisher.publish(
        subjects.actionRequested(a.channels[0] ?? 'email'),
        SCHEMAS.ActionRequested,
        a,
        {
          msgId: a.actionId + idSuffix,
        },
      );
    }
    case 'outcome': {
      const o: actions.ActionOutcome = m.message;
      return publisher.publish(subjects.actionOutcome(o.status), SCHEMAS.ActionOutcome, o, {
        msgId: outcomeId(OUTCOME_TOKEN[o.status], o.actionId, o.channel) + idSuffix,
      });
    }
    case 'event': {
      const e: events.EnrichedEvent = m.message;
      const event = e.event!;
      return publisher.publish(
        subjects.enrichedEvent(
          partitionOf(event.customerId, PARTITIONS),
          event.category || ev.EventCategory.EVENT_CATEGORY_CUSTOMER_ACTION,
          event.type,
        ),
        SCHEMAS.EnrichedEvent,
        e,
        { msgId: event.id + idSuffix },
      );
    }
  }
}

const CONSUMERS: Array<[string, string]> = [
  ['TRIGGERS', 'analytics-fires'],
  ['ACTIONS', 'analytics-requests'],
  ['ACTIONS', 'analytics-outcomes'],
  ['EVENTS', 'analytics-events'],
];

/** Waits until every analytics consumer has handled and acked everything in its stream. */
export async function caughtUp(nc: NatsConnection, timeoutMs = 60_000): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor(
    async () => {
      for (const [stream, durable] of CONSUMERS) {
        const info = await jsm.consumers.info(stream, durable);
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 50, message: 'analytics consumers did not catch up' },
  );
}
