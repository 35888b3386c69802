import assert from 'node:assert/strict';
import { ConfigError, commonConfig, databaseName, env, loadConfig, ownedPartitions } from '../../src/config';

describe('configuration from environment variables', () => {
  it('uses safe defaults when nothing is set', () => {
    const cfg = loadConfig(commonConfig, {});
    assert.equal(cfg.NATS_URL, 'nats://127.0.0.1:4222');
    assert.equal(cfg.KAIROS_PARTITIONS, 16);
    assert.equal(cfg.KAIROS_DRAIN_TIMEOUT, 20_000);
  });

  it('gives each service its own database unless MONGO_DB names one', () => {
    assert.equal(databaseName(loadConfig(commonConfig, {}), 'pattern-detection'), 'kairos_pattern_detection');
    assert.equal(databaseName(loadConfig(commonConfig, { MONGO_DB: 'shop' }), 'enrichment'), 'shop');
  });

  it('parses valid values', () => {
    const cfg = loadConfig(commonConfig, {
      KAIROS_PARTITIONS: '8',
      KAIROS_DRAIN_TIMEOUT: '5s',
      LOG_LEVEL: 'debug',
    });
    assert.equal(cfg.KAIROS_PARTITIONS, 8);
    assert.equal(cfg.KAIROS_DRAIN_TIMEOUT, 5_000);
    assert.equal(cfg.LOG_LEVEL, 'debug');
  });

  it('names every bad variable with the expected form and the value it got', () => {
    try {
      loadConfig(commonConfig, {
        KAIROS_GRPC_PORT: 'abc',
        NATS_URL: 'http://x',
        KAIROS_DRAIN_TIMEOUT: '5 minutes',
      });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.sort(), [
        "KAIROS_DRAIN_TIMEOUT: expected a duration like 500ms, 30s, 5m, 1h or 7d, got '5 minutes'",
        "KAIROS_GRPC_PORT: expected a port number from 0 to 65535, got 'abc'",
        "NATS_URL: expected a URL starting with nats:// or tls://, without credentials (see NATS_USER and NATS_*_FILE), got 'http://x'",
      ]);
    }
  });

  it('reads sizes in bytes, KiB, MiB and GiB, and names a size it cannot read', () => {
    const shape = { A: env.bytes('1MiB'), B: env.bytes('0'), C: env.bytes('1MiB'), D: env.bytes('1MiB') };
    const cfg = loadConfig(shape, { B: '65536', C: '512KiB', D: '2GiB' });
    assert.deepEqual([cfg.A, cfg.B, cfg.C, cfg.D], [1_048_576, 65_536, 524_288, 2 * 1024 ** 3]);
    assert.throws(
      () => loadConfig(shape, { A: '256 MB' }),
      (e: ConfigError) =>
        e.problems.includes("A: expected a size like 65536, 512KiB, 256MiB or 2GiB, got '256 MB'"),
    );
  });

  it('rejects out-of-range integers and unknown enum values', () => {
    assert.throws(
      () =>
        loadConfig({ N: env.int(1, 1, 10), M: env.enumOf(['a', 'b'] as const, 'a') }, { N: '11', M: 'c' }),
      (e: ConfigError) =>
        e.problems.includes("N: expected an integer from 1 to 10, got '11'") &&
        e.problems.includes("M: expected one of a, b, got 'c'"),
    );
  });

  it('gives replica i of N the partitions p % N == i', () => {
    const cfg = (ordinal: string) =>
      loadConfig(commonConfig, {
        KAIROS_PARTITIONS: '8',
        KAIROS_REPLICAS: '3',
        KAIROS_REPLICA_ORDINAL: ordinal,
      });
    assert.deepEqual(ownedPartitions(cfg('0')), [0, 3, 6]);
    assert.deepEqual(ownedPartitions(cfg('2')), [2, 5]);
  });
});
