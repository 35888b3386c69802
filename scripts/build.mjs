// Compiles every workspace package with `tsc -b`. Packages are discovered (every folder under libs/,
// services/, tools/ and e2e with a tsconfig.json), so adding a package needs no root edit; tsc's
// project references order the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const projects = [];
for (const group of ['libs', 'services', 'tools']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) {
    if (existsSync(join(dir, name, 'tsconfig.json'))) projects.push(`${group}/${name}`);
  }
}
if (existsSync(join(root, 'e2e', 'tsconfig.json'))) projects.push('e2e');

const tsc = join(root, 'node_modules', '.bin', 'tsc');
const result = spawnSync(tsc, ['-b', ...projects, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
