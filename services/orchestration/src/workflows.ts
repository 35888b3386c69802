import {
  compileDocument,
  loadDefinitionsFromPath,
  type DefinitionChange,
  type DefinitionDocument,
  type DefinitionStore,
  type TriggerSpec,
  type WatchHandle,
  type WorkflowSpec,
} from '@kairos/definitions';
import type { Logger } from '@kairos/messaging';

/**
 * The workflows in force, by name and by trigger. Loaded from a directory at start and kept
 * current from the definition store's watch (hot reload): a change that does not compile is logged
 * and the previous version stays in force.
 */
export class WorkflowRegistry {
  private readonly workflows = new Map<string, WorkflowSpec>();
  private byTrigger = new Map<string, WorkflowSpec[]>();
  /** Store documents, so a trigger change recompiles the workflows that use it. */
  private readonly triggerDocs = new Map<string, { doc: DefinitionDocument; version: number }>();
  private readonly workflowDocs = new Map<string, { doc: DefinitionDocument; version: number }>();
  private readonly triggerSpecs = new Map<string, TriggerSpec>();
  private watch?: WatchHandle;

  constructor(private readonly logger: Logger) {}

  get(name: string): WorkflowSpec | undefined {
    return this.workflows.get(name);
  }

  forTrigger(trigger: string): WorkflowSpec[] {
    return this.byTrigger.get(trigger) ?? [];
  }

  all(): WorkflowSpec[] {
    return [...this.workflows.values()];
  }

  /** Replaces or adds workflows (tests, directory loading). */
  set(...specs: WorkflowSpec[]): void {
    for (const s of specs) this.workflows.set(s.name, s);
    this.reindex();
  }

  remove(name: string): void {
    this.workflows.delete(name);
    this.reindex();
  }

  private reindex(): void {
    const next = new Map<string, WorkflowSpec[]>();
    for (const w of this.workflows.values())
      for (const t of w.triggers) next.set(t, [...(next.get(t) ?? []), w]);
    this.byTrigger = next;
  }

  /** Loads every Workflow (and the Triggers they need for aliases) under a file or directory. */
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
    this.watch = await store.watch((change) => this.onChange(change));
    await this.watch.ready;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }

  private onChange(change: DefinitionChange): void {
    if (change.type === 'delete') {
      if (change.kind === 'Workflow') {
        this.workflowDocs.delete(change.name);
        this.remove(change.name);
        this.logger.info({ workflow: change.name }, 'workflow deleted');
      } else {
        this.triggerDocs.delete(change.name);
        this.triggerSpecs.delete(change.name);
      }
      return;
    }
    const { kind, name, document, version } = change.definition;
    if (kind === 'Trigger') {
      this.triggerDocs.set(name, { doc: document, version });
      try {
        const c = compileDocument(document, version);
        if (c.kind === 'Trigger') this.triggerSpecs.set(name, c.trigger);
      } catch (err) {
        this.logger.warn({ trigger: name, err: (err as Error).message }, 'stored trigger does not compile');
      }
      // Aliases may have changed: recompile the workflows that use this trigger.
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
