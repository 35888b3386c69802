import {
  CaptureTag,
  Context,
  Liquid,
  Tag,
  toPromise,
  toValue,
  type Emitter,
  type TagToken,
  type TopLevelToken,
} from 'liquidjs';
import { parse as parseYaml } from 'yaml';
import type { SendStep, WorkflowContext } from '@kairos/definitions';

/** The Liquid fields a catalog template may carry (each optional). */
export const TEMPLATE_FIELDS = ['subject', 'text', 'html', 'title', 'body'] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];
export type MessageTemplate = Partial<Record<TemplateField, string>>;

/** A rendering problem: the run fails visibly instead of sending a blank or half-filled message. */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

export interface TemplateCatalog {
  /** Throws RenderError when the template does not exist or is malformed. */
  get(name: string): Promise<MessageTemplate>;
}

export class MemoryTemplateCatalog implements TemplateCatalog {
  constructor(private readonly templates: Record<string, MessageTemplate>) {}
  async get(name: string): Promise<MessageTemplate> {
    const t = this.templates[name];
    if (!t) throw new RenderError(`template '${name}' not found`);
    return t;
  }
}

export function parseTemplate(name: string, text: string): MessageTemplate {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RenderError(`template '${name}': invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new RenderError(`template '${name}': expected a mapping`);
  const out: MessageTemplate = {};
  for (const field of TEMPLATE_FIELDS) {
    const v = (doc as Record<string, unknown>)[field];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new RenderError(`template '${name}': field '${field}' must be a string`);
    out[field] = v;
  }
  if (Object.keys(out).length === 0)
    throw new RenderError(`template '${name}': expected at least one of ${TEMPLATE_FIELDS.join(', ')}`);
  return out;
}

/**
 * Bounds of one Liquid render. Templates come from definitions and the template catalog, and render
 * over customer data: each limit turns a runaway template into a RenderError instead of a stalled
 * or swollen process.
 */
export const TEMPLATE_LIMITS = {
  /** Characters of one template field (LiquidJS `parseLimit`). */
  maxTemplateLength: 256 * 1024,
  /** Milliseconds one render may take (LiquidJS `renderLimit`, checked between tags). */
  maxRenderMs: 2_000,
  /**
   * Characters and elements one render may allocate (LiquidJS `memoryLimit`): ranges, joins and
   * filters as LiquidJS counts them, plus every character written to the output or a `capture`.
   */
  maxRenderAlloc: 8_000_000,
} as const;

/** Tags that would read other templates, i.e. files: refused where the template is parsed. */
const FILE_TAGS = ['include', 'render', 'layout'] as const;

function refusedTag(name: string) {
  return class extends Tag {
    constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
      super(token, remain, liquid);
      throw new Error(`{% ${name} %} is not supported: templates cannot read files or other templates`);
    }
    render(): void {}
  };
}

/** Liquid's text form of an output value: nil is empty, lists concatenate. */
function outputText(value: unknown): string {
  const v: unknown = toValue(value);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(outputText).join('');
  return String(v);
}

/**
 * An output buffer that charges every character to the render's allocation limit: LiquidJS counts
 * ranges and filters but not what a loop writes, so without it output grows until the time limit.
 */
class ChargedEmitter implements Emitter {
  buffer = '';
  constructor(private readonly ctx: Context) {}
  write(html: unknown): void {
    const text = outputText(html);
    this.ctx.memoryLimit.use(text.length);
    this.buffer += text;
  }
}

/** `{% capture %}` writing into a ChargedEmitter (the built-in one's buffer is not counted). */
class ChargedCaptureTag extends CaptureTag {
  override *render(ctx: Context): Generator<unknown, void, string> {
    const html = yield this.liquid.renderer.renderTemplates(this.templates, ctx, new ChargedEmitter(ctx));
    ctx.bottom()[this.variable] = html;
  }
}

/**
 * LiquidJS in strict mode: an undefined variable or filter is an error, not an empty string, and
 * only own properties are visible (no prototype walking on customer data). Templates cannot read
 * files (`include`, `render` and `layout` are refused, and the engine has no file system: an empty
 * in-memory one), and every render is bounded by TEMPLATE_LIMITS.
 */
export class TemplateRenderer {
  private readonly liquid = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    // `{% if profile.traits.vip %}` and `| default:` may probe for absent values.
    lenientIf: true,
    cache: 512,
    templates: {},
    parseLimit: TEMPLATE_LIMITS.maxTemplateLength,
    renderLimit: TEMPLATE_LIMITS.maxRenderMs,
    memoryLimit: TEMPLATE_LIMITS.maxRenderAlloc,
  });

  constructor() {
    for (const name of FILE_TAGS) this.liquid.registerTag(name, refusedTag(name));
    this.liquid.registerTag('capture', ChargedCaptureTag);
  }

  async render(text: string, scope: Record<string, unknown>, what: string): Promise<string> {
    try {
      const templates = this.liquid.parse(text);
      const ctx = new Context(scope, this.liquid.options, {}, { liquid: this.liquid });
      const emitter = new ChargedEmitter(ctx);
      return String(await toPromise(this.liquid.renderer.renderTemplates(templates, ctx, emitter)));
    } catch (err) {
      throw new RenderError(`${what}: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  async renderTemplate(
    template: MessageTemplate,
    scope: Record<string, unknown>,
    name: string,
  ): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const field of TEMPLATE_FIELDS) {
      const text = template[field];
      if (text !== undefined)
        out[field] = await this.render(text, scope, `template '${name}' field '${field}'`);
    }
    const visible = Object.values(out).some((v) => v.trim() !== '');
    if (!visible) throw new RenderError(`template '${name}' rendered to an empty message`);
    return out;
  }
}

/** Which content a send step uses: the first variant whose condition holds, else the default. */
export interface ContentChoice {
  /** Catalog template name, or undefined for inline content. */
  template?: string;
  /** `default`, or `variants[i]` of the variant that matched. */
  variant: string;
}

export function chooseContent(step: SendStep, ctx: WorkflowContext): ContentChoice {
  for (let i = 0; i < step.variants.length; i++) {
    const v = step.variants[i];
    if (v.when.test(ctx)) return { template: v.template, variant: `variants[${i}]:${v.template}` };
  }
  return step.template !== undefined
    ? { template: step.template, variant: 'default' }
    : { variant: 'default' };
}

/** Liquid scope: bound aliases, `event`, `profile`, `trigger`. */
export function liquidScope(ctx: WorkflowContext): Record<string, unknown> {
  return {
    ...(ctx.bindings ?? {}),
    event: ctx.event,
    profile: ctx.profile ?? {},
    trigger: ctx.trigger ?? {},
  };
}

/** Renders the content of a send step (catalog template or inline subject/body). */
export async function renderSendContent(
  step: SendStep,
  choice: ContentChoice,
  ctx: WorkflowContext,
  catalog: TemplateCatalog,
  renderer: TemplateRenderer,
): Promise<Record<string, string>> {
  const scope = liquidScope(ctx);
  if (choice.template !== undefined) {
    return renderer.renderTemplate(await catalog.get(choice.template), scope, choice.template);
  }
  const inline: MessageTemplate = {};
  if (step.subject !== undefined) inline.subject = step.subject;
  if (step.body !== undefined) inline.body = step.body;
  return renderer.renderTemplate(inline, scope, `inline content of ${step.id}`);
}
