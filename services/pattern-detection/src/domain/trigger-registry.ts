import {
  compileDocument,
  formatErrors,
  DefinitionValidationError,
  type DefinitionChange,
} from '@kairos/definitions';
import type { TriggerSpec } from '@kairos/patterns';
import type { Logger } from '@kairos/service-kit';

/**
 * The active trigger set, kept from the definition store's watch. Each change recompiles the
 * stored document (at its store version) and notifies listeners with the whole set, so engines
 * hot-reload without a restart. A stored document that no longer compiles is logged and left out.
 */
export class TriggerRegistry {
  private readonly specs = new Map<string, TriggerSpec>();
  private readonly listeners = new Set<(triggers: TriggerSpec[]) => void>();

  constructor(private readonly logger: Logger) {}

  current(): TriggerSpec[] {
    return [...this.specs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): TriggerSpec | undefined {
    return this.specs.get(name);
  }

  onChange(listener: (triggers: TriggerSpec[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one store change; returns true when the active set changed. */
  handle(change: DefinitionChange): boolean {
    if (change.type === 'delete') {
      if (change.kind !== 'Trigger' || !this.specs.delete(change.name)) return false;
      this.logger.info({ trigger: change.name }, 'trigger deleted');
      this.notify();
      return true;
    }
    const def = change.definition;
    if (def.kind !== 'Trigger') return false;
    try {
      const compiled = compileDocument(def.document, def.version);
      if (compiled.kind !== 'Trigger') return false;
      const prev = this.specs.get(def.name);
      if (prev && prev.version === compiled.trigger.version) return false;
      this.specs.set(def.name, compiled.trigger);
      this.logger.info(
        { trigger: def.name, version: def.version, initial: change.initial },
        'trigger loaded',
      );
    } catch (err) {
      const detail =
        err instanceof DefinitionValidationError ? formatErrors(err.errors) : (err as Error).message;
      this.logger.error(
        { trigger: def.name, version: def.version, err: detail },
        'stored trigger does not compile',
      );
      return false;
    }
    if (!change.initial) this.notify();
    return true;
  }

  notify(): void {
    const set = this.current();
    for (const l of this.listeners) l(set);
  }
}
