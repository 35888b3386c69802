/**
 * From YAML text to compiled definitions, reporting every problem with file:line:column and path.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import {
  Composer,
  isMap,
  isPair,
  isScalar,
  isSeq,
  isCollection,
  LineCounter,
  Parser,
  visit,
  type CST,
  type Document,
  type Node,
} from 'yaml';
import { compileTriggerDocument, compileWorkflowDocument, type WorkflowCompileOptions } from './compile';
import {
  DefinitionValidationError,
  formatPath,
  type DefinitionError,
  type Issue,
  type PathSegment,
} from './errors';
import { DEFINITION_LIMITS, documentDepthIssue, valueTooDeepAt, yamlTooDeepAt } from './limits';
import type { TriggerSpec } from './patterns';
import { definitions, envelopeSchema, specSchemaByKind, type DefinitionKind } from './schema';
import { validateValue } from './schema-dsl';
import type {
  CompiledDefinition,
  DefinitionDocument,
  SourceLocation,
  ValidationResult,
  WorkflowSpec,
} from './types';

export interface SourceText {
  /** File name used in error messages. */
  file: string;
  text: string;
}

export interface ValidateOptions {
  /**
   * Triggers already known outside the validated set (e.g. from the store), for workflow
   * references and alias checks. Triggers in the set take precedence.
   */
  knownTriggers?: (name: string) => TriggerSpec | undefined;
  /** See WorkflowCompileOptions.unknownTriggers (default 'error'). */
  unknownTriggers?: 'error' | 'allow';
}

/** A parsed YAML document with the means to locate paths in it. */
interface ParsedDoc {
  value: unknown;
  source: SourceLocation;
  locate(path: PathSegment[], atKey?: boolean): { line: number; column: number };
}

function nodeAt(doc: Document, path: PathSegment[], atKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let last: Node | undefined = (doc.contents as Node | null) ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return last;
      if (atKey && i === path.length - 1) return pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else return last;
    if (node && typeof node === 'object' && 'range' in node) last = node as Node;
    else return last;
  }
  return last;
}

/**
 * Parses every document of a source. The YAML is first parsed to its syntax tree (no recursion),
 * where nesting is checked; a document past the limit is reported and not composed (composing
 * recurses per level). Aliases expand within DEFINITION_LIMITS.maxAliasCount.
 */
function parseSource(src: SourceText, errors: DefinitionError[]): ParsedDoc[] {
  const lineCounter = new LineCounter();
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(src.text));
  // Composer yields one document per document token, in order: index -> offset of the too-deep node.
  const tooDeep = new Map<number, number>();
  tokens
    .filter((t): t is CST.Document => t.type === 'document')
    .forEach((doc, documentIndex) => {
      const at = yamlTooDeepAt(doc);
      if (at === undefined) return;
      tooDeep.set(documentIndex, at);
      delete doc.value; // composed as an empty document, then skipped
    });
  const out: ParsedDoc[] = [];
  Array.from(new Composer({}).compose(tokens)).forEach((doc, documentIndex) => {
    const fail = (offset: number, message: string) =>
      errors.push({ file: src.file, ...pos(offset), path: '', message, documentIndex });
    const deepAt = tooDeep.get(documentIndex);
    if (deepAt !== undefined) return fail(deepAt, documentDepthIssue([]).message);
    let broken = false;
    for (const e of doc.errors) {
      broken = true;
      fail(e.pos[0], e.message.split('\n')[0]);
    }
    if (broken) return;
    if (doc.contents === null) return; // empty document (e.g. trailing ---)
    const start = (doc.contents as Node).range?.[0] ?? 0;
    // A mapping or list as a key has no JS form: toJS would stringify it with a process warning.
    let collectionKey: Node | undefined;
    visit(doc, {
      Pair(_, pair) {
        if (!isCollection(pair.key)) return undefined;
        collectionKey = pair.key;
        return visit.BREAK;
      },
    });
    if (collectionKey)
      return fail(
        collectionKey.range?.[0] ?? start,
        'a mapping key must be text or a number, not a mapping or list',
      );
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: DEFINITION_LIMITS.maxAliasCount });
    } catch (err) {
      // The yaml library throws when aliases expand past maxAliasCount ("billion laughs").
      const message = err instanceof Error ? err.message : String(err);
      return fail(
        start,
        /alias count/i.test(message)
          ? `YAML aliases expand past the limit of ${DEFINITION_LIMITS.maxAliasCount} (maxAliasCount)`
          : `YAML: ${message}`,
      );
    }
    out.push({
      value,
      source: { file: src.file, documentIndex, line: pos(start).line },
      locate(path, atKey = false) {
        const node = nodeAt(doc, path, atKey);
        return node?.range ? pos(node.range[0]) : pos(start);
      },
    });
  });
  return out;
}

function toErrors(doc: ParsedDoc, issues: Issue[]): DefinitionError[] {
  return issues.map((i) => ({
    file: doc.source.file,
    ...doc.locate(i.path, i.atKey),
    path: formatPath(i.path),
    message: i.message,
    documentIndex: doc.source.documentIndex,
  }));
}

/** Structural validation of one document (envelope + spec for its kind). */
export function structuralIssues(value: unknown): Issue[] {
  // Validation recurses per level: the nesting limit is checked first, without recursion.
  const deep = valueTooDeepAt(value);
  if (deep) return [documentDepthIssue(deep)];
  const issues: Issue[] = [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    validateValue(value, envelopeSchema, definitions, [], issues);
    return issues;
  }
  const { spec, ...rest } = value as Record<string, unknown>;
  // The envelope declares spec as an empty mapping; the kind decides the spec schema.
  validateValue('spec' in value ? { ...rest, spec: {} } : rest, envelopeSchema, definitions, [], issues);
  const kind = rest.kind;
  if ('spec' in value && (kind === 'Trigger' || kind === 'Workflow')) {
    validateValue(spec, specSchemaByKind[kind as DefinitionKind], definitions, ['spec'], issues);
  }
  return issues;
}

/** Validates and compiles the documents of several sources as one set. */
export function validateSources(sources: SourceText[], options: ValidateOptions = {}): ValidationResult {
  const errors: DefinitionError[] = [];
  const parsed = sources.flatMap((s) => parseSource(s, errors));
  const valid: { doc: ParsedDoc; document: DefinitionDocument }[] = [];
  const seen = new Map<string, ParsedDoc>();
  const structural = new Map<ParsedDoc, Issue[]>();
  for (const doc of parsed) {
    // Aliases can nest a value deeper than its YAML text: such a document is reported, not compiled.
    const deep = valueTooDeepAt(doc.value);
    if (deep) {
      errors.push(...toErrors(doc, [documentDepthIssue(deep)]));
      continue;
    }
    const issues = structuralIssues(doc.value);
    const document = doc.value as DefinitionDocument;
    if (issues.length) {
      errors.push(...toErrors(doc, issues));
      structural.set(doc, issues);
    }
    const name = document?.metadata?.name;
    if (typeof name !== 'string' || (document.kind !== 'Trigger' && document.kind !== 'Workflow')) continue;
    if (!document.spec || typeof document.spec !== 'object') continue;
    const key = `${document.kind}/${name}`;
    const prev = seen.get(key);
    if (prev) {
      errors.push(
        ...toErrors(doc, [
          {
            path: ['metadata', 'name'],
            message: `duplicate ${document.kind} '${name}' (also defined at ${prev.source.file}:${prev.source.line})`,
          },
        ]),
      );
      structural.set(doc, [...(structural.get(doc) ?? []), { path: [], message: 'duplicate' }]);
      continue;
    }
    seen.set(key, doc);
    valid.push({ doc, document });
  }

  // Semantic checks also run on documents with structural errors (so every problem is reported at
  // once); their findings under an already-reported path are dropped, and any failure is ignored.
  const semantic = (doc: ParsedDoc, run: (issues: Issue[]) => void): boolean => {
    const issues: Issue[] = [];
    const broken = structural.get(doc);
    try {
      run(issues);
    } catch (err) {
      if (!broken)
        issues.push({ path: [], message: `internal error: ${err instanceof Error ? err.message : err}` });
    }
    const keep = broken
      ? issues.filter((i) => !broken.some((b) => formatPath(i.path).startsWith(formatPath(b.path))))
      : issues;
    errors.push(...toErrors(doc, keep));
    return !broken && keep.length === 0;
  };

  const documents: CompiledDefinition[] = [];
  const triggers = new Map<string, TriggerSpec>();
  // Triggers first: workflows need their aliases. A trigger with errors still resolves (no cascade).
  for (const { doc, document } of valid) {
    if (document.kind !== 'Trigger') continue;
    let trigger: TriggerSpec | undefined;
    const ok = semantic(doc, (issues) => {
      trigger = compileTriggerDocument(document, 0, issues, !structural.has(doc));
      triggers.set(trigger.name, trigger);
    });
    if (ok && trigger)
      documents.push({ kind: 'Trigger', name: trigger.name, document, source: doc.source, trigger });
  }
  const wfOptions: WorkflowCompileOptions = {
    resolveTrigger: (name) => triggers.get(name) ?? options.knownTriggers?.(name),
    unknownTriggers: options.unknownTriggers,
  };
  for (const { doc, document } of valid) {
    if (document.kind !== 'Workflow') continue;
    let workflow: WorkflowSpec | undefined;
    const ok = semantic(doc, (issues) => {
      workflow = compileWorkflowDocument(document, 0, issues, wfOptions);
    });
    if (ok && workflow)
      documents.push({ kind: 'Workflow', name: workflow.name, document, source: doc.source, workflow });
  }
  errors.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : 0));
  return { documents, errors };
}

/** Validates one YAML text (possibly several `---` documents). */
export function parseDefinitions(
  text: string,
  file = '<input>',
  options: ValidateOptions = {},
): ValidationResult {
  return validateSources([{ file, text }], options);
}

/**
 * Compiles one stored/plain document (no source positions). Throws DefinitionValidationError.
 * For workflows pass `resolveTrigger` so aliases are known.
 */
export function compileDocument(
  document: DefinitionDocument,
  version = 0,
  options: WorkflowCompileOptions = {},
): CompiledDefinition {
  const issues = structuralIssues(document);
  const fail = () =>
    new DefinitionValidationError(
      issues.map((i) => ({
        file: '<document>',
        line: 0,
        column: 0,
        path: formatPath(i.path),
        message: i.message,
      })),
    );
  if (issues.length) throw fail();
  if (document.kind === 'Trigger') {
    const trigger = compileTriggerDocument(document, version, issues);
    if (issues.length) throw fail();
    return { kind: 'Trigger', name: trigger.name, document, trigger };
  }
  const workflow = compileWorkflowDocument(document, version, issues, options);
  if (issues.length) throw fail();
  return { kind: 'Workflow', name: workflow.name, document, workflow };
}

async function listYamlFiles(p: string): Promise<string[]> {
  const st = await fs.stat(p);
  if (st.isFile()) return [p];
  const out: string[] = [];
  for (const entry of (await fs.readdir(p, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = nodePath.join(p, entry.name);
    if (entry.isDirectory()) out.push(...(await listYamlFiles(full)));
    else if (/\.ya?ml$/i.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * Reads a .yaml/.yml file or every such file under a directory (recursively, sorted) and validates
 * them as one set. A missing path is reported as an error, not thrown.
 */
export async function loadDefinitionsFromPath(
  fileOrDir: string,
  options: ValidateOptions = {},
): Promise<ValidationResult> {
  let files: string[];
  try {
    files = await listYamlFiles(fileOrDir);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { documents: [], errors: [{ file: fileOrDir, line: 0, column: 0, path: '', message }] };
  }
  // Strict decoding: a lenient one turns bytes that are not UTF-8 into U+FFFD without a word.
  const strict = new TextDecoder('utf-8', { fatal: true });
  const errors: DefinitionError[] = [];
  const sources: SourceText[] = [];
  for (const file of files) {
    const bytes = await fs.readFile(file);
    try {
      sources.push({ file, text: strict.decode(bytes) });
    } catch {
      errors.push({
        file,
        line: 0,
        column: 0,
        path: '',
        message: 'not valid UTF-8 (save the file as UTF-8)',
      });
    }
  }
  const result = validateSources(sources, options);
  return errors.length ? { ...result, errors: [...errors, ...result.errors] } : result;
}
