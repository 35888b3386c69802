/**
 * The template catalog on disk (KAIROS_TEMPLATES_DIR). It reads files, so it lives outside
 * src/domain; parsing and rendering stay pure in domain/content.ts.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { parseTemplate, RenderError, type MessageTemplate, type TemplateCatalog } from './domain/content';

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * `<dir>/<name>.yaml` files; re-read when changed on disk, so edits apply without a restart. A file
 * is checked at most once per `recheckMs` (a stat per send was 2% of orchestration's CPU).
 */
export class DirectoryTemplateCatalog implements TemplateCatalog {
  private readonly cache = new Map<
    string,
    { mtimeMs: number; checkedAt: number; template: MessageTemplate }
  >();

  constructor(
    private readonly dir: string,
    private readonly recheckMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<MessageTemplate> {
    if (!TEMPLATE_NAME.test(name)) throw new RenderError(`invalid template name '${name}'`);
    const cached = this.cache.get(name);
    const checkedAt = this.now();
    if (cached && checkedAt - cached.checkedAt < this.recheckMs) return cached.template;
    const file = nodePath.join(this.dir, `${name}.yaml`);
    let mtimeMs: number;
    try {
      mtimeMs = (await fs.stat(file)).mtimeMs;
    } catch {
      this.cache.delete(name);
      throw new RenderError(`template '${name}' not found in ${this.dir}`);
    }
    if (cached && cached.mtimeMs === mtimeMs) {
      cached.checkedAt = checkedAt;
      return cached.template;
    }
    const template = parseTemplate(name, await fs.readFile(file, 'utf8'));
    this.cache.set(name, { mtimeMs, checkedAt, template });
    return template;
  }
}
