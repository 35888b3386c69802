import type { ProvisionMode } from '@kairos/contracts';
import type { NatsConnection } from '@nats-io/nats-core';
import { openNatsDefinitionStore } from './kv-store';
import type { DefinitionChange, DefinitionStore, WatchHandle } from './store';
import type { TriggerSpec } from './patterns';
import type { DefinitionDocument, WorkflowSpec } from './types';
import { compileDocument, loadDefinitionsFromPath } from './validate';

/** The logging a registry does (a pino logger fits). */
export interface RegistryLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Where a registry's workflows come from (see WorkflowRegistry.open). */
export interface WorkflowSources {
  /** A file or directory of definitions loaded at start. */
  dir?: string;
  /** Follow the definition store on NATS (hot reload). */
  watch: boolean;
  /** Replicas of the definition store's bucket, when it is created. */
  replicas: number;
  /** `external`: bind to the provisioned bucket instead of creating it. */
  provision?: ProvisionMode;
}

/**
 * The workflows in force, by name and by trigger. Loaded from a directory at start and kept
 * current from the definition store's watch (hot reload): a change that does not compile is logged
 * and the previous version stays in force. Trigger documents are kept, so a trigger change
 * recompiles the workflows that use it (their aliases may have changed).
 */
export class WorkflowRegistry {
  private readonly workflows = new Map<string, WorkflowSpec>();
  private byTrigger = new Map<string, WorkflowSpec[]>();
  private readonly workflowDocs = new Map<string, { doc: DefinitionDocument; version: number }>();
  private readonly triggerSpecs = new Map<string, TriggerSpec>();
  private readonly listeners: Array<(workflows: WorkflowSpec[]) => void> = [];
  private watch?: WatchHandle;

  constructor(private readonly logger: RegistryLogger) {}

  get(name: string): WorkflowSpec | undefined {
    return this.workflows.get(name);
  }

  forTrigger(trigger: string): WorkflowSpec[] {
    return this.byTrigger.get(trigger) ?? [];
  }

  all(): WorkflowSpec[] {
    return [...this.workflows.values()];
  }

  /** Calls `fn` with every workflow in force after each change. */
  onChange(fn: (workflows: WorkflowSpec[]) => void): void {
    this.listeners.push(fn);
  }

  /** Replaces or adds workflows (tests, directory loading). */
  set(...specs: WorkflowSpec[]): void {
    for (const s of specs) this.workflows.set(s.name, s);
    this.changed();
  }

  remove(name: string): void {
    this.workflows.delete(name);
    this.changed();
  }

  /** Loads `sources.dir` when given, then follows the NATS definition store when `sources.watch`. */
  async open(nc: NatsConnection, sources: WorkflowSources): Promise<void> {
    if (sources.dir) await this.loadDirectory(sources.dir);
    if (sources.watch)
      await this.follow(
        await openNatsDefinitionStore(nc, { replicas: sources.replicas, provision: sources.provision }),
      );
  }

  /** Loads every Workflow under a file or directory; invalid documents are logged and skipped. */
  async loadDirectory(path: string): Promise<number> {
    const result = await loadDefinitionsFromPath(path, { unknownTriggers: 'allow' });
    for (const e of result.errors)
      this.logger.error(
        { file: e.file, line: e.line, path: e.path, err: e.message },
        'invalid definition skipped',
      );
    const specs: WorkflowSpec[] = [];
    for (const d of result.documents) if (d.kind === 'Workflow') specs.push(d.workflow);
    this.set(...specs);
    this.logger.info({ path, workflows: specs.map((s) => s.name) }, 'workflows loaded from directory');
    return specs.length;
  }

  /** Follows the definition store; resolves once the stored definitions are loaded. */
  async follow(store: DefinitionStore): Promise<void> {
    this.watch = await store.watch((change) => this.apply(change));
    await this.watch.ready;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }

  private changed(): void {
    const next = new Map<string, WorkflowSpec[]>();
    for (const w of this.workflows.values())
      for (const t of w.triggers) next.set(t, [...(next.get(t) ?? []), w]);
    this.byTrigger = next;
    if (!this.listeners.length) return;
    const list = this.all();
    for (const fn of this.listeners) fn(list);
  }

  private apply(change: DefinitionChange): void {
    if (change.type === 'delete') {
      if (change.kind === 'Workflow') {
        this.workflowDocs.delete(change.name);
        this.remove(change.name);
        this.logger.info({ workflow: change.name }, 'workflow deleted');
      } else {
        this.triggerSpecs.delete(change.name);
      }
      return;
    }
    const { kind, name, document, version } = change.definition;
    if (kind === 'Trigger') {
      try {
        const c = compileDocument(document, version);
        if (c.kind === 'Trigger') this.triggerSpecs.set(name, c.trigger);
      } catch (err) {
        this.logger.warn({ trigger: name, err: (err as Error).message }, 'stored trigger does not compile');
      }
      for (const [wname, w] of this.workflowDocs) {
        const spec = w.doc.spec as { trigger?: string | string[] };
        if ([spec.trigger ?? []].flat().includes(name)) this.compileWorkflow(wname, w.doc, w.version);
      }
      return;
    }
    this.workflowDocs.set(name, { doc: document, version });
    this.compileWorkflow(name, document, version);
  }

  private compileWorkflow(name: string, doc: DefinitionDocument, version: number): void {
    try {
      const c = compileDocument(doc, version, {
        resolveTrigger: (t) => this.triggerSpecs.get(t),
        unknownTriggers: 'allow',
      });
      if (c.kind !== 'Workflow') return;
      this.set(c.workflow);
      this.logger.info({ workflow: name, version }, 'workflow loaded');
    } catch (err) {
      this.logger.error(
        { workflow: name, version, err: (err as Error).message },
        'workflow does not compile; previous version kept',
      );
    }
  }
}
