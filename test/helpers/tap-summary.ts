// Reads ava's TAP output on stdin, echoes it, and ends with the line CI reads:
// "N passed, N failed" (", N skipped" when any were skipped).
// `--runs N`: N TAP streams are expected, each closing with a "1..M" plan; a
// run that never printed its plan (a crash, a timeout that killed the
// reporter) counts as one failure, so the summary can never look green then.
import { createInterface } from 'node:readline';

const runsIndex = process.argv.indexOf('--runs');
const expectedRuns = runsIndex > 0 ? Number(process.argv[runsIndex + 1]) : 1;
let plans = 0;
let planned = 0;
let passed = 0;
let failed = 0;
let skipped = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const plan = /^1\.\.(\d+)$/.exec(line);
  if (plan) {
    plans += 1;
    planned += Number(plan[1]);
  }
  const match = /^(not ok|ok) \d+/.exec(line);
  if (!match) return;
  if (/#\s*(SKIP|TODO)/i.test(line)) skipped += 1;
  else if (match[1] === 'ok') passed += 1;
  else failed += 1;
});
lines.on('close', () => {
  const unfinished = Math.max(0, expectedRuns - plans) + Math.max(0, planned - passed - failed - skipped);
  if (unfinished > 0) {
    process.stdout.write(`not ok - ${unfinished} test run(s) or test(s) did not finish (no TAP plan, or fewer results than planned)\n`);
    failed += unfinished;
  }
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  // A run with a failure, or with no test at all, must fail the pipeline.
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
