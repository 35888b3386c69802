import type { Condition, Pattern, TriggerSpec } from './ast';
import { validateTrigger } from './validate';

export const K_EVENT = 0;
export const K_COUNT = 1;
export const K_SEQUENCE = 2;
export const K_ALL = 3;
export const K_ANY = 4;
export const K_ABSENT = 5;

/** A pattern node flattened in pre-order (root = 0) so run state can be plain arrays indexed by node. */
export interface CompiledNode {
  index: number;
  kind: number;
  kindName: Pattern['kind'];
  /** Step path used in explanations, e.g. `sequence[1].all[0]`. */
  path: string;
  parent: number;
  /** Position in the parent's children. */
  position: number;
  children: number[];
  /** event / count / absent (the absent event's type). */
  type: string;
  where: Condition | undefined;
  alias: string | undefined;
  atLeast: number;
  /** Window of sequence / all / count; Infinity when unbounded. */
  withinMs: number;
  forMs: number;
}

export interface CompiledTrigger {
  spec: TriggerSpec;
  nodes: CompiledNode[];
  /** Every event type the pattern mentions (absent events included: they cancel partial matches). */
  types: string[];
  /** Runs have absence deadlines or expiries to track (a window, or a single-run count). */
  hasTimers: boolean;
  /** Event types that can start a partial match (the first events the root can take). */
  startTypes: Set<string>;
  /** Nodes that bind an alias (conditions get bindings built from them). */
  aliasNodes: number[];
  /** The nodes that hold events in a run (event and count nodes), and per node its position among them (-1: none). */
  evNodes: number[];
  evSlot: number[];
  /** A root `count` needs a single partial match: any later one holds a subset of its window. */
  singleRun: boolean;
}

export function compileTrigger(spec: TriggerSpec): CompiledTrigger {
  const issues = validateTrigger(spec);
  if (issues.length > 0) {
    throw new Error(
      `invalid trigger '${spec.name}': ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
  }
  const nodes: CompiledNode[] = [];
  const types = new Set<string>();
  let hasTimers = false;
  const add = (p: Pattern, path: string, parent: number, position: number): number => {
    const node: CompiledNode = {
      index: nodes.length,
      kind: K_EVENT,
      kindName: p.kind,
      path,
      parent,
      position,
      children: [],
      type: '',
      where: undefined,
      alias: undefined,
      atLeast: 0,
      withinMs: Infinity,
      forMs: 0,
    };
    nodes.push(node);
    const prefix = parent < 0 ? p.kind : `${path}.${p.kind}`;
    switch (p.kind) {
      case 'event':
      case 'count':
        node.type = p.type;
        node.where = p.where;
        node.alias = p.as;
        types.add(p.type);
        if (p.kind === 'count') {
          node.kind = K_COUNT;
          node.atLeast = p.atLeast;
          node.withinMs = p.withinMs;
        } else node.kind = K_EVENT;
        break;
      case 'absent':
        node.kind = K_ABSENT;
        node.type = p.pattern.type;
        node.where = p.pattern.where;
        node.forMs = p.forMs;
        types.add(p.pattern.type);
        hasTimers = true;
        break;
      case 'sequence':
      case 'all':
      case 'any': {
        node.kind = p.kind === 'sequence' ? K_SEQUENCE : p.kind === 'all' ? K_ALL : K_ANY;
        if (p.kind !== 'any' && p.withinMs !== undefined) {
          node.withinMs = p.withinMs;
          hasTimers = true;
        }
        const children = p.kind === 'sequence' ? p.steps : p.of;
        children.forEach((c, i) => node.children.push(add(c, `${prefix}[${i}]`, node.index, i)));
        break;
      }
    }
    return node.index;
  };
  add(spec.pattern, spec.pattern.kind, -1, 0);
  // A root count, or a root any over plain event/count leaves, needs a single partial match: a later
  // one could only hold a subset of what the first one holds, so it can never complete earlier.
  const root = nodes[0];
  const singleRun =
    root.kind === K_COUNT ||
    (root.kind === K_ANY &&
      root.children.every((c) => nodes[c].kind === K_EVENT || nodes[c].kind === K_COUNT));
  // Its partial match expires once every event it holds has left its count's window (engine
  // computeTimers), which needs the same expiry bookkeeping as windows and deadlines.
  if (singleRun && nodes.some((n) => n.kind === K_COUNT)) hasTimers = true;
  const startTypes = new Set<string>();
  const starts = (i: number): void => {
    const node = nodes[i];
    if (node.kind === K_EVENT || node.kind === K_COUNT) startTypes.add(node.type);
    else if (node.kind === K_SEQUENCE) starts(node.children[0]);
    else if (node.kind === K_ALL || node.kind === K_ANY) node.children.forEach(starts);
  };
  starts(0);
  const aliasNodes = nodes.filter((n) => n.alias !== undefined).map((n) => n.index);
  const evNodes = nodes.filter((n) => n.kind === K_EVENT || n.kind === K_COUNT).map((n) => n.index);
  const evSlot = nodes.map((n) => evNodes.indexOf(n.index));
  return { spec, nodes, types: [...types], hasTimers, singleRun, startTypes, aliasNodes, evNodes, evSlot };
}
