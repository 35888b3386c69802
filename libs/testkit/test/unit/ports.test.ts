import assert from 'node:assert/strict';
import { freePort } from '../../src/ports';

describe('freePort', () => {
  it('never returns a port twice in one process, even when the OS offers a closed one again', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length);
    for (const port of ports) assert.ok(port > 0 && port < 65536);
  });
});
