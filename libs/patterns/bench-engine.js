#!/usr/bin/env node
// Runs the pattern engine benchmark after `node_modules/.bin/tsc -b libs/patterns`.
// Usage: node libs/patterns/bench-engine.js [events] [customers] [triggers]
const { runEngineBenchmark } = require('./dist/src/bench');

const [events, customers, triggers] = process.argv.slice(2).map((v) => (v === undefined ? undefined : Number(v)));
runEngineBenchmark({ events, customers, triggers }).then(
  (r) => {
    console.log(r.table);
    console.log(JSON.stringify({ engine_events_per_s: r.engine_events_per_s, engine_state_bytes_per_customer: r.engine_state_bytes_per_customer }));
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
