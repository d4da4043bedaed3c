// AVA_SUITE picks the suite:
// - host (default): every tier but the guest's, one file at a time (make test, make test-host);
// - fast: test/unit and test/fast, which need no root and no host tools, files
//   side by side (npm test, make test-fast);
// - guest: the dm-crypt suite that test/vm/run-guest-suite.sh runs inside a QEMU guest.
import { availableParallelism } from 'node:os';

const suites = {
  host: { files: ['dist/test/**/*.test.js', '!dist/test/guest/**'], concurrency: 1, timeout: '3m' },
  fast: { files: ['dist/test/unit/**/*.test.js', 'dist/test/fast/**/*.test.js'], concurrency: availableParallelism(), timeout: '3m' },
  guest: { files: ['dist/test/guest/**/*.test.js'], concurrency: 1, timeout: '10m' },
};
const name = process.env.AVA_SUITE ?? 'host';
const suite = Object.hasOwn(suites, name) ? suites[name] : undefined;
if (!suite) throw new Error(`AVA_SUITE must be one of ${Object.keys(suites).join(', ')}`);

export default { ...suite, workerThreads: false };
