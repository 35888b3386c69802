/** Writes schema/kairos-v1.schema.json from the schema source (run: pnpm --filter @kairos/definitions gen:schema). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kairosJsonSchema } from '../src/schema';

export const SCHEMA_FILE = join(__dirname, '..', '..', 'schema', 'kairos-v1.schema.json');

export function renderSchema(): string {
  return `${JSON.stringify(kairosJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(SCHEMA_FILE, renderSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
