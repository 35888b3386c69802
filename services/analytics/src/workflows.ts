/**
 * The workflows analytics needs: their triggers, conversion event, window and value expression,
 * holdout and costs. The shared WorkflowRegistry loads them from a directory and keeps them current
 * from the definition store; a change that does not compile is logged and the previous version stays.
 */
import type { events } from '@kairos/contracts';
import { WorkflowRegistry, type WorkflowSources, type WorkflowSpec } from '@kairos/definitions';
import type { NatsConnection } from '@kairos/messaging';
import type { Logger } from '@kairos/service-kit';
import type { WorkflowInfo } from './domain/facts';

export class WorkflowCatalog {
  private readonly registry: WorkflowRegistry;

  constructor(logger: Logger) {
    this.registry = new WorkflowRegistry(logger);
  }

  /** Called with the full list after every change. */
  onChange(fn: (list: WorkflowInfo[]) => void): void {
    this.registry.onChange(() => fn(this.infos()));
  }

  set(...specs: WorkflowSpec[]): void {
    this.registry.set(...specs);
  }

  infos(): WorkflowInfo[] {
    return this.registry.all().map((w) => ({
      name: w.name,
      triggers: w.triggers,
      holdoutPercent: w.holdoutPercent,
      cost: w.cost as Record<string, number>,
      ...(w.conversion ? { conversion: { event: w.conversion.event, withinMs: w.conversion.withinMs } } : {}),
    }));
  }

  /** Event types that are some workflow's conversion. */
  conversionTypes(): Set<string> {
    const out = new Set<string>();
    for (const w of this.registry.all()) if (w.conversion) out.add(w.conversion.event);
    return out;
  }

  /** The value of a conversion event under each workflow that counts it (0 without an expression or on error). */
  conversionValues(e: events.EnrichedEvent): Record<string, number> {
    const out: Record<string, number> = {};
    const ev = e.event!;
    for (const w of this.registry.all()) {
      if (w.conversion?.event !== ev.type) continue;
      if (!w.conversion.value) {
        out[w.name] = 0;
        continue;
      }
      const r = w.conversion.value.evaluate({
        event: {
          id: ev.id,
          type: ev.type,
          customerId: ev.customerId,
          time: ev.occurredAt?.getTime() ?? 0,
          properties: (ev.properties as Record<string, unknown> | undefined) ?? {},
        },
        profile: (e.profile as unknown as Record<string, unknown> | undefined) ?? {},
      });
      out[w.name] = r.ok && Number.isFinite(r.value) ? r.value : 0;
    }
    return out;
  }

  /** Loads the directory and follows the definition store, as `sources` says. */
  open(nc: NatsConnection, sources: WorkflowSources): Promise<void> {
    return this.registry.open(nc, sources);
  }

  async stop(): Promise<void> {
    await this.registry.stop();
  }
}
