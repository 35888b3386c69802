/**
 * The versioned definition store: apply (validate all, then write all, roll back on a write
 * failure), get/list/history/delete, and watch for hot reload. The logic sits on a tiny key-value
 * backend interface implemented on NATS JetStream KV (kv-store.ts) and in memory (tests, tools).
 */
import { DefinitionValidationError, formatPath, type DefinitionError } from './errors';
import type { TriggerSpec } from './patterns';
import type { DefinitionKind } from './schema';
import { compileTriggerDocument, compileWorkflowDocument } from './compile';
import type { CompiledDefinition, DefinitionDocument } from './types';
import { structuralIssues } from './validate';

export const DEFINITIONS_BUCKET = 'kairos-definitions';
export const DEFINITIONS_HISTORY = 64;
/** How a service that follows the definitions declares the bucket (read only) for provisioning. */
export const DEFINITIONS_READER = { bucket: DEFINITIONS_BUCKET, history: DEFINITIONS_HISTORY, write: false };

/** One stored version of a definition. */
export interface StoredDefinition {
  kind: DefinitionKind;
  name: string;
  /** 1, 2, 3, ... per definition; continues after a delete and re-create. */
  version: number;
  /** When this version was applied. */
  updatedAt: Date;
  /** Backend revision (JetStream KV revision) of this version. */
  revision: number;
  document: DefinitionDocument;
}

/** An entry of `history()`: a version, or a deletion. */
export type HistoryEntry =
  | ({ operation: 'put' } & StoredDefinition)
  | { operation: 'delete'; kind: DefinitionKind; name: string; updatedAt: Date; revision: number };

export interface ApplyResult {
  kind: DefinitionKind;
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  version: number;
}

export type DefinitionChange =
  | { type: 'put'; definition: StoredDefinition; initial: boolean }
  | { type: 'delete'; kind: DefinitionKind; name: string; revision: number; initial: boolean };

export interface WatchHandle {
  /** Resolves once the current definitions have been delivered (as `initial: true` puts). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface DefinitionStore {
  /**
   * Validates every document (against each other and the stored triggers), then writes them all.
   * Throws DefinitionValidationError (nothing written) or DefinitionApplyError (written ones rolled back).
   */
  apply(docs: ReadonlyArray<DefinitionDocument | CompiledDefinition>): Promise<ApplyResult[]>;
  get(kind: DefinitionKind, name: string): Promise<StoredDefinition | undefined>;
  list(kind?: DefinitionKind): Promise<StoredDefinition[]>;
  /** Every retained version (up to the bucket history, 64), oldest first, including deletions. */
  history(kind: DefinitionKind, name: string): Promise<HistoryEntry[]>;
  /** Returns false when there was nothing to delete. */
  delete(kind: DefinitionKind, name: string): Promise<boolean>;
  /** Calls onChange for the current state (initial) and then every change, in order. */
  watch(onChange: (change: DefinitionChange) => void): Promise<WatchHandle>;
}

export class DefinitionApplyError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
    /** Documents whose rollback failed (left in the new state). */
    readonly rollbackFailures: string[],
  ) {
    super(message);
    this.name = 'DefinitionApplyError';
  }
}

// ---------------------------------------------------------------------------------------------
// Backend

export interface RawEntry {
  key: string;
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: string;
  created: Date;
}

export interface KvBackend {
  get(key: string): Promise<RawEntry | null>;
  /** Fails when the key exists (and is not deleted). */
  create(key: string, value: string): Promise<number>;
  /** Fails unless the key's last revision is `revision`. */
  update(key: string, value: string, revision: number): Promise<number>;
  put(key: string, value: string): Promise<number>;
  delete(key: string, previousRevision?: number): Promise<void>;
  history(key: string): Promise<RawEntry[]>;
  keys(filter: string): Promise<string[]>;
  watch(onEntry: (e: RawEntry, initial: boolean) => void): Promise<WatchHandle>;
}

const KIND_PREFIX: Record<DefinitionKind, string> = { Trigger: 'trigger', Workflow: 'workflow' };

export function definitionKey(kind: DefinitionKind, name: string): string {
  return `${KIND_PREFIX[kind]}.${name}`;
}

function parseKey(key: string): { kind: DefinitionKind; name: string } | undefined {
  const dot = key.indexOf('.');
  const prefix = key.slice(0, dot);
  const kind = prefix === 'trigger' ? 'Trigger' : prefix === 'workflow' ? 'Workflow' : undefined;
  return kind ? { kind, name: key.slice(dot + 1) } : undefined;
}

interface StoredValue {
  version: number;
  updatedAt: string;
  document: DefinitionDocument;
}

function decode(e: RawEntry): StoredDefinition | undefined {
  const k = parseKey(e.key);
  if (!k || e.operation !== 'PUT') return undefined;
  const v = JSON.parse(e.value) as StoredValue;
  return {
    ...k,
    version: v.version,
    updatedAt: new Date(v.updatedAt),
    revision: e.revision,
    document: v.document,
  };
}

/** Stable JSON (sorted keys) for change detection. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export class KvDefinitionStore implements DefinitionStore {
  constructor(
    private readonly kv: KvBackend,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async apply(input: ReadonlyArray<DefinitionDocument | CompiledDefinition>): Promise<ApplyResult[]> {
    const docs = input.map((d) => ('apiVersion' in d ? d : d.document));
    await this.validate(input, docs);

    // Read current state, decide actions.
    type Plan = { key: string; doc: DefinitionDocument; current: RawEntry | null; result: ApplyResult };
    const plans: Plan[] = [];
    for (const doc of docs) {
      const key = definitionKey(doc.kind, doc.metadata.name);
      const current = await this.kv.get(key);
      const stored = current ? decode(current) : undefined;
      const base = { kind: doc.kind, name: doc.metadata.name };
      if (stored && canonical(stored.document) === canonical(doc)) {
        plans.push({ key, doc, current, result: { ...base, action: 'unchanged', version: stored.version } });
        continue;
      }
      const previousVersion = stored ? stored.version : await this.lastVersion(key);
      plans.push({
        key,
        doc,
        current,
        result: { ...base, action: stored ? 'updated' : 'created', version: previousVersion + 1 },
      });
    }

    // Write; on failure roll back what was written.
    const written: Plan[] = [];
    for (const p of plans) {
      if (p.result.action === 'unchanged') continue;
      const value: StoredValue = {
        version: p.result.version,
        updatedAt: this.now().toISOString(),
        document: p.doc,
      };
      const json = JSON.stringify(value);
      try {
        if (p.current) await this.kv.update(p.key, json, p.current.revision);
        else await this.kv.create(p.key, json);
        written.push(p);
      } catch (err) {
        const failures: string[] = [];
        for (const w of written.reverse()) {
          try {
            if (w.current && w.current.operation === 'PUT') await this.kv.put(w.key, w.current.value);
            else await this.kv.delete(w.key);
          } catch {
            failures.push(w.key);
          }
        }
        const msg = err instanceof Error ? err.message : String(err);
        throw new DefinitionApplyError(
          `apply failed writing ${p.key} (${msg}); ${written.length} earlier write(s) rolled back` +
            (failures.length ? `, rollback failed for ${failures.join(', ')}` : ''),
          err,
          failures,
        );
      }
    }
    return plans.map((p) => p.result);
  }

  private async validate(
    input: ReadonlyArray<DefinitionDocument | CompiledDefinition>,
    docs: DefinitionDocument[],
  ): Promise<void> {
    const errors: DefinitionError[] = [];
    const where = (i: number) => {
      const src = 'apiVersion' in input[i] ? undefined : (input[i] as CompiledDefinition).source;
      return {
        file: src?.file ?? `<document ${i}>`,
        line: src?.line ?? 0,
        column: src ? 1 : 0,
        documentIndex: i,
      };
    };
    const triggers = new Map<string, TriggerSpec>();
    const seen = new Set<string>();
    const ok: boolean[] = [];
    docs.forEach((doc, i) => {
      const issues = structuralIssues(doc);
      for (const is of issues) errors.push({ ...where(i), path: formatPath(is.path), message: is.message });
      ok[i] = issues.length === 0;
      if (!ok[i]) return;
      const key = definitionKey(doc.kind, doc.metadata.name);
      if (seen.has(key)) {
        errors.push({
          ...where(i),
          path: 'metadata.name',
          message: `duplicate ${doc.kind} '${doc.metadata.name}'`,
        });
        ok[i] = false;
      }
      seen.add(key);
    });
    docs.forEach((doc, i) => {
      if (!ok[i] || doc.kind !== 'Trigger') return;
      const issues: { path: (string | number)[]; message: string }[] = [];
      const t = compileTriggerDocument(doc, 0, issues);
      triggers.set(t.name, t);
      for (const is of issues) errors.push({ ...where(i), path: formatPath(is.path), message: is.message });
    });
    // Stored triggers referenced by workflows (not in this set).
    const needed = new Set<string>();
    docs.forEach((doc, i) => {
      if (!ok[i] || doc.kind !== 'Workflow') return;
      const t = doc.spec.trigger;
      for (const name of Array.isArray(t) ? t : [t])
        if (!triggers.has(name as string)) needed.add(name as string);
    });
    for (const name of needed) {
      const stored = await this.get('Trigger', name);
      if (!stored) continue;
      const issues: { path: (string | number)[]; message: string }[] = [];
      triggers.set(name, compileTriggerDocument(stored.document, stored.version, issues));
    }
    docs.forEach((doc, i) => {
      if (!ok[i] || doc.kind !== 'Workflow') return;
      const issues: { path: (string | number)[]; message: string }[] = [];
      compileWorkflowDocument(doc, 0, issues, { resolveTrigger: (n) => triggers.get(n) });
      for (const is of issues) errors.push({ ...where(i), path: formatPath(is.path), message: is.message });
    });
    if (errors.length) throw new DefinitionValidationError(errors);
  }

  private async lastVersion(key: string): Promise<number> {
    let max = 0;
    for (const e of await this.kv.history(key)) {
      const d = decode(e);
      if (d && d.version > max) max = d.version;
    }
    return max;
  }

  async get(kind: DefinitionKind, name: string): Promise<StoredDefinition | undefined> {
    const e = await this.kv.get(definitionKey(kind, name));
    return e ? decode(e) : undefined;
  }

  async list(kind?: DefinitionKind): Promise<StoredDefinition[]> {
    const filter = kind ? `${KIND_PREFIX[kind]}.*` : '>';
    const keys = (await this.kv.keys(filter)).sort();
    const out: StoredDefinition[] = [];
    for (const key of keys) {
      const e = await this.kv.get(key);
      const d = e ? decode(e) : undefined;
      if (d) out.push(d);
    }
    return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }

  async history(kind: DefinitionKind, name: string): Promise<HistoryEntry[]> {
    const entries = await this.kv.history(definitionKey(kind, name));
    return entries
      .sort((a, b) => a.revision - b.revision)
      .map((e): HistoryEntry => {
        const d = decode(e);
        return d
          ? { operation: 'put', ...d }
          : { operation: 'delete', kind, name, updatedAt: e.created, revision: e.revision };
      });
  }

  async delete(kind: DefinitionKind, name: string): Promise<boolean> {
    const key = definitionKey(kind, name);
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return false;
    await this.kv.delete(key, e.revision);
    return true;
  }

  async watch(onChange: (change: DefinitionChange) => void): Promise<WatchHandle> {
    return this.kv.watch((e, initial) => {
      const k = parseKey(e.key);
      if (!k) return;
      const d = decode(e);
      if (d) onChange({ type: 'put', definition: d, initial });
      else if (!initial) onChange({ type: 'delete', ...k, revision: e.revision, initial });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory backend (tests, simulations, CLI dry runs)

export class MemoryKvBackend implements KvBackend {
  private seq = 0;
  private readonly log: RawEntry[] = [];
  private readonly watchers = new Set<(e: RawEntry, initial: boolean) => void>();

  private last(key: string): RawEntry | null {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i].key === key) return this.log[i];
    return null;
  }

  private append(key: string, value: string, operation: RawEntry['operation']): number {
    const e: RawEntry = { key, value, operation, revision: ++this.seq, created: new Date() };
    this.log.push(e);
    const hist = this.log.filter((x) => x.key === key);
    if (hist.length > DEFINITIONS_HISTORY) this.log.splice(this.log.indexOf(hist[0]), 1);
    for (const w of this.watchers) w(e, false);
    return e.revision;
  }

  async get(key: string): Promise<RawEntry | null> {
    return this.last(key);
  }
  async create(key: string, value: string): Promise<number> {
    const cur = this.last(key);
    if (cur && cur.operation === 'PUT') throw new Error(`wrong last sequence: key ${key} exists`);
    return this.append(key, value, 'PUT');
  }
  async update(key: string, value: string, revision: number): Promise<number> {
    const cur = this.last(key);
    if ((cur?.revision ?? 0) !== revision) throw new Error(`wrong last sequence: ${cur?.revision ?? 0}`);
    return this.append(key, value, 'PUT');
  }
  async put(key: string, value: string): Promise<number> {
    return this.append(key, value, 'PUT');
  }
  async delete(key: string, previousRevision?: number): Promise<void> {
    const cur = this.last(key);
    if (previousRevision !== undefined && (cur?.revision ?? 0) !== previousRevision)
      throw new Error(`wrong last sequence: ${cur?.revision ?? 0}`);
    this.append(key, '', 'DEL');
  }
  async history(key: string): Promise<RawEntry[]> {
    return this.log.filter((e) => e.key === key);
  }
  async keys(filter: string): Promise<string[]> {
    const prefix = filter === '>' ? '' : filter.replace(/\*$/, '');
    const keys = new Set<string>();
    for (const e of this.log) if (e.key.startsWith(prefix)) keys.add(e.key);
    return [...keys].filter((k) => this.last(k)?.operation === 'PUT');
  }
  async watch(onEntry: (e: RawEntry, initial: boolean) => void): Promise<WatchHandle> {
    const latest = new Map<string, RawEntry>();
    for (const e of this.log) latest.set(e.key, e);
    for (const e of [...latest.values()].sort((a, b) => a.revision - b.revision)) onEntry(e, true);
    this.watchers.add(onEntry);
    return {
      ready: Promise.resolve(),
      stop: async () => {
        this.watchers.delete(onEntry);
      },
    };
  }
}

/** A store in memory (for tests and tools); same semantics as the NATS KV store. */
export function createMemoryDefinitionStore(now?: () => Date): KvDefinitionStore {
  return new KvDefinitionStore(new MemoryKvBackend(), now);
}
