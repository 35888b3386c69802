/**
 * The workflows analytics needs: their triggers, conversion event, window and value expression,
 * holdout and costs. Loaded from a directory and kept current from the definition store; a change
 * that does not compile is logged and the previous version stays.
 */
import type { events } from '@kairos/contracts';
import {
  compileDocument,
  loadDefinitionsFromPath,
  type DefinitionChange,
  type DefinitionStore,
  type WatchHandle,
  type WorkflowSpec,
} from '@kairos/definitions';
import type { Logger } from '@kairos/service-kit';
import type { WorkflowInfo } from './domain/facts';

export class WorkflowCatalog {
  private readonly specs = new Map<string, WorkflowSpec>();
  private watch?: WatchHandle;
  private listeners: Array<(list: WorkflowInfo[]) => void> = [];

  constructor(private readonly logger: Logger) {}

  /** Called with the full list after every change. */
  onChange(fn: (list: WorkflowInfo[]) => void): void {
    this.listeners.push(fn);
  }

  set(...specs: WorkflowSpec[]): void {
    for (const s of specs) this.specs.set(s.name, s);
    this.changed();
  }

  infos(): WorkflowInfo[] {
    return [...this.specs.values()].map((w) => ({
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
    for (const w of this.specs.values()) if (w.conversion) out.add(w.conversion.event);
    return out;
  }

  /** The value of a conversion event under each workflow that counts it (0 without an expression or on error). */
  conversionValues(e: events.EnrichedEvent): Record<string, number> {
    const out: Record<string, number> = {};
    const ev = e.event!;
    for (const w of this.specs.values()) {
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

  async loadDirectory(path: string): Promise<void> {
    const result = await loadDefinitionsFromPath(path, { unknownTriggers: 'allow' });
    for (const e of result.errors)
      this.logger.error({ file: e.file, path: e.path, err: e.message }, 'invalid definition skipped');
    this.set(...result.documents.flatMap((d) => (d.kind === 'Workflow' ? [d.workflow] : [])));
  }

  /** Follows the store; resolves once the stored definitions are loaded. */
  async follow(store: DefinitionStore): Promise<void> {
    this.watch = await store.watch((c) => this.apply(c));
    await this.watch.ready;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }

  private apply(change: DefinitionChange): void {
    if (change.type === 'delete') {
      if (change.kind === 'Workflow' && this.specs.delete(change.name)) this.changed();
      return;
    }
    if (change.definition.kind !== 'Workflow') return;
    try {
      const c = compileDocument(change.definition.document, change.definition.version, {
        unknownTriggers: 'allow',
      });
      if (c.kind === 'Workflow') this.set(c.workflow);
    } catch (err) {
      this.logger.warn(
        { workflow: change.definition.name, err: (err as Error).message },
        'stored workflow does not compile',
      );
    }
  }

  private changed(): void {
    const list = this.infos();
    for (const fn of this.listeners) fn(list);
  }
}
