// Reads ava's TAP output on stdin, echoes it, and ends with the line CI reads:
// "N passed, N failed" (", N skipped" when any were skipped).
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const match = /^(not ok|ok) \d+/.exec(line);
  if (!match) return;
  if (/#\s*(SKIP|TODO)/i.test(line)) skipped += 1;
  else if (match[1] === 'ok') passed += 1;
  else failed += 1;
});
lines.on('close', () => {
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  // A run with a failure, or with no test at all, must fail the pipeline.
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
