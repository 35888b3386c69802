/**
 * Anomaly alerts: at each check, the last complete hour of every trigger's volume is judged by the
 * anomaly rule; a new anomaly is recorded once (keyed by series and hour) and published as a system
 * event `analytics.anomaly` on `events.raw`, the normal event path, so a workflow can page someone.
 */
import { events, partitionOf, SCHEMAS, subjects } from '@kairos/contracts';
import type { Publisher } from '@kairos/messaging';
import type { Clock, Logger } from '@kairos/service-kit';
import { counter } from '@kairos/telemetry';
import { bucketStart, BUCKET_MS } from './domain/buckets';
import { normalizeQuery } from './domain/query';
import { volumeReport } from './domain/reports';
import type { AnalyticsState } from './domain/state';
import type { FactStore } from './store';

const alerts = counter('kairos_analytics_anomalies_total', 'Anomaly alerts published', ['kind']);

export interface AlertSettings {
  partitions: number;
  customerId: string;
  eventType: string;
}

export class AnomalyAlerts {
  constructor(
    private readonly state: AnalyticsState,
    private readonly store: FactStore,
    private readonly publisher: Publisher,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: AlertSettings,
  ) {}

  /** Judges the last complete hour; returns the alerts published now. */
  async check(): Promise<events.Event[]> {
    const to = bucketStart(this.clock.now(), 'hour');
    const q = normalizeQuery(
      'volume',
      { fromMs: to - BUCKET_MS.hour, toMs: to, groupBy: 'trigger', granularity: 'hour' },
      to,
    );
    const published: events.Event[] = [];
    for (const s of volumeReport(this.state, q).series) {
      for (const a of s.anomalies) {
        const bucket = a.bucket!.getTime();
        const id = `anomaly:${s.key}:${bucket}`;
        // Once per series and hour, across checks and restarts.
        if (!(await this.store.recordAnomaly(id, s.key, bucket, new Date(this.clock.now())))) continue;
        const event = events.Event.fromPartial({
          id,
          type: this.settings.eventType,
          category: events.EventCategory.EVENT_CATEGORY_SYSTEM,
          customerId: this.settings.customerId,
          occurredAt: new Date(bucket + BUCKET_MS.hour),
          receivedAt: new Date(this.clock.now()),
          source: 'analytics',
          properties: {
            trigger: s.key,
            kind: a.kind,
            bucket: new Date(bucket).toISOString(),
            value: a.value,
            baseline: a.baseline,
            z: Math.round(a.z * 100) / 100,
          },
        });
        const p = partitionOf(event.customerId, this.settings.partitions);
        await this.publisher.publish(subjects.rawEvent(p, event.category, event.type), SCHEMAS.Event, event, {
          msgId: id,
        });
        alerts.inc({ kind: a.kind });
        this.logger.warn(
          { trigger: s.key, kind: a.kind, value: a.value, baseline: a.baseline, z: a.z },
          'trigger volume anomaly',
        );
        published.push(event);
      }
    }
    return published;
  }
}
