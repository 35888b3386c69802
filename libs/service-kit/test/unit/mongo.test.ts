import assert from 'node:assert/strict';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { duplicateKeyWrites, isDuplicateKey } from '../../src';

const serverError = (code: number) => new MongoServerError({ code, errmsg: `E${code} test`, message: 'x' });

describe('duplicate-key detection', () => {
  it('recognizes a unique index violation by its code or its message', () => {
    assert.equal(isDuplicateKey(serverError(11000)), true);
    assert.equal(isDuplicateKey(new Error('E11000 duplicate key error collection: x')), true);
    assert.equal(isDuplicateKey(serverError(121)), false);
    assert.equal(isDuplicateKey(undefined), false);
  });

  it('names the lost writes of a bulk write only when every error is a duplicate key', () => {
    const bulk = (codes: number[]) =>
      new MongoBulkWriteError(
        {
          message: 'bulk',
          code: codes[0],
          writeErrors: codes.map((code, index) => ({ code, index: index * 2, errmsg: 'e' })),
        } as never,
        { insertedCount: 0, matchedCount: 0 } as never,
      );
    assert.deepEqual(duplicateKeyWrites(bulk([11000, 11000])), [0, 2]);
    assert.equal(duplicateKeyWrites(bulk([11000, 121])), undefined);
    assert.equal(duplicateKeyWrites(serverError(11000)), undefined);
  });
});
