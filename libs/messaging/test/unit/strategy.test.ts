import assert from 'node:assert/strict';
import { consumerSpec, SCHEMAS, STREAMS } from '@kairos/contracts';
import { ConcurrentStrategy } from '../../src/consume/concurrent';
import { OrderedStrategy } from '../../src/consume/ordered';
import { OrderedBatchStrategy } from '../../src/consume/ordered-batch';
import { MessageProcessor } from '../../src/consume/processor';
import type { ConsumeLoopOptions, ConsumeMode } from '../../src/consume/types';
import { consumeStrategy } from '../../src/consumer';
import { silentLogger } from '../../src/logger';
import type { Publisher } from '../../src/publisher';

function processorFor(mode: ConsumeMode, handlers: Partial<ConsumeLoopOptions<unknown>>) {
  return new MessageProcessor<unknown>({
    spec: consumerSpec(STREAMS.EVENTS.name, 'strategy-test', 'events.raw.>'),
    schema: SCHEMAS.Event as never,
    mode,
    logger: silentLogger,
    publisher: {} as Publisher,
    ...handlers,
  });
}

describe('consumeStrategy (one strategy per consume mode)', () => {
  const handler = async () => undefined;
  const batchHandler = async () => undefined;

  it('builds the strategy class of each mode kind', () => {
    assert.ok(consumeStrategy(processorFor({ kind: 'ordered' }, { handler })) instanceof OrderedStrategy);
    assert.ok(
      consumeStrategy(processorFor({ kind: 'concurrent', max: 4 }, { handler })) instanceof
        ConcurrentStrategy,
    );
    assert.ok(
      consumeStrategy(
        processorFor({ kind: 'ordered-batch', max: 8, maxWaitMs: 2 }, { batchHandler }),
      ) instanceof OrderedBatchStrategy,
    );
  });

  it('names the handler a mode needs when it is missing', () => {
    assert.throws(
      () => consumeStrategy(processorFor({ kind: 'ordered' }, { batchHandler })),
      /strategy-test: mode ordered needs a handler/,
    );
    assert.throws(
      () => consumeStrategy(processorFor({ kind: 'concurrent', max: 4 }, {})),
      /mode concurrent needs a handler/,
    );
    assert.throws(
      () => consumeStrategy(processorFor({ kind: 'ordered-batch', max: 8, maxWaitMs: 2 }, { handler })),
      /mode ordered-batch needs a batchHandler/,
    );
  });
});
