import type { DefinitionDocument } from '../../src';

export function triggerDoc(name: string, priority = 50, alias = 'add'): DefinitionDocument {
  return {
    apiVersion: 'kairos/v1',
    kind: 'Trigger',
    metadata: { name },
    spec: { priority, pattern: { event: 'cart.item_added', as: alias } },
  };
}

export function workflowDoc(name: string, trigger: string, conditions?: string): DefinitionDocument {
  return {
    apiVersion: 'kairos/v1',
    kind: 'Workflow',
    metadata: { name },
    spec: {
      trigger,
      ...(conditions ? { conditions } : {}),
      steps: [{ send: { channel: 'email', template: 'x' } }],
    },
  };
}
