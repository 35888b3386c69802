import * as assert from 'node:assert/strict';
import * as nodePath from 'node:path';
import { loadDefinitionsFromPath, type WorkflowContext, type WorkflowSpec } from '@kairos/definitions';
import { chooseContent, liquidScope, renderSendContent, TemplateRenderer } from '../../src/domain/content';
import { profileView } from '../../src/domain/context';
import { compileProgram } from '../../src/domain/program';
import { DirectoryTemplateCatalog } from '../../src/templates';

const ROOT = nodePath.resolve(__dirname, '../../../../..');
const SAMPLES = [nodePath.join(ROOT, 'examples'), nodePath.join(ROOT, 'libs/definitions/examples')];
const TEMPLATES = nodePath.join(ROOT, 'services/orchestration/templates');

async function sampleWorkflows(dir: string): Promise<WorkflowSpec[]> {
  const r = await loadDefinitionsFromPath(dir);
  assert.deepEqual(r.errors, []);
  return r.documents.flatMap((d) => (d.kind === 'Workflow' ? [d.workflow] : []));
}

/** A customer the samples know nothing about: no traits at all. */
function anonymousContext(): WorkflowContext {
  const event = (alias: string) => ({
    id: `e-${alias}`,
    type: 'sample',
    customerId: 'anon',
    time: 0,
    properties: { sku: 'SKU-1', price: 1500, revenue: 2000, amount: 120 },
  });
  return {
    // As the engine sees a profile that has no traits: every other field defaulted.
    profile: profileView(undefined, 'anon'),
    bindings: { add: event('add'), order: event('order'), fail: event('fail'), view: event('view') },
    trigger: { name: 'sample', explanation: 'sample' },
  } as unknown as WorkflowContext;
}

describe('sample workflows for a customer without traits', () => {
  const renderer = new TemplateRenderer();
  const catalog = new DirectoryTemplateCatalog(TEMPLATES, 1_000);

  for (const dir of SAMPLES) {
    it(`renders every message and escalation of ${nodePath.relative(ROOT, dir)}/ without a name trait`, async () => {
      const ctx = anonymousContext();
      const rendered: string[] = [];
      for (const wf of await sampleWorkflows(dir)) {
        for (const ins of compileProgram(wf.steps)) {
          if (ins.op === 'escalate') {
            rendered.push(
              await renderer.render(ins.step.message, liquidScope(ctx), `${wf.name}/${ins.step.id}`),
            );
          } else if (ins.op === 'send') {
            const content = await renderSendContent(
              ins.step,
              chooseContent(ins.step, ctx),
              ctx,
              catalog,
              renderer,
            );
            rendered.push(Object.values(content).join('\n'));
          }
        }
      }
      assert.ok(rendered.includes('a customer failed payment 3 times in 5 minutes'), rendered.join('\n'));
    });
  }
});
