#!/usr/bin/env node
// Runs the pattern engine benchmark after `node_modules/.bin/tsc -b libs/patterns`.
// Usage: node libs/patterns/bench-engine.mjs [events] [customers] [triggers]
import { runEngineBenchmark } from './dist/src/bench.js';

const [events, customers, triggers] = process.argv
  .slice(2)
  .map((v) => (v === undefined ? undefined : Number(v)));
const result = await runEngineBenchmark({ events, customers, triggers });
console.log(result.table);
console.log(
  JSON.stringify({
    engine_events_per_s: result.engine_events_per_s,
    engine_state_bytes_per_customer: result.engine_state_bytes_per_customer,
  }),
);
