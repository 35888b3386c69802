// Regenerates the TypeScript contracts (libs/contracts/src/gen) from proto/ with buf + ts-proto.
// Skipped when no .proto file or buf.gen.yaml is newer than the generated code.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const protoDir = join(root, 'proto');
const outDir = join(root, 'libs', 'contracts', 'src', 'gen');
const stamp = join(outDir, '.stamp');

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}
const scriptTime = statSync(new URL(import.meta.url).pathname).mtimeMs;
if (existsSync(stamp) && statSync(stamp).mtimeMs >= Math.max(newest(protoDir), scriptTime)) process.exit(0);

rmSync(outDir, { recursive: true, force: true });
const r = spawnSync(join(root, 'node_modules', '.bin', 'buf'), ['generate'], {
  cwd: protoDir,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error('gen-proto: buf generate failed');
  process.exit(r.status ?? 1);
}
writeFileSync(stamp, new Date().toISOString());
console.log('gen-proto: regenerated libs/contracts/src/gen');
