// AVA_SUITE picks the suite:
// - fast (the default, so a bare `npx ava` is safe anywhere): test/unit and
//   test/fast, which need no root and no host tools, files side by side
//   (npm test, make test-fast);
// - host: every tier but the guest's, as root, one file at a time: it starts
//   dockerd, glusterd, loop devices and mounts (make test, make test-host);
// - guest: the dm-crypt suite that test/vm/run-guest-suite.sh runs inside a QEMU guest.
import { availableParallelism } from 'node:os';

const suites = {
  host: { files: ['dist/test/**/*.test.js', '!dist/test/guest/**'], concurrency: 1, timeout: '3m' },
  fast: { files: ['dist/test/unit/**/*.test.js', 'dist/test/fast/**/*.test.js'], concurrency: availableParallelism(), timeout: '3m' },
  guest: { files: ['dist/test/guest/**/*.test.js'], concurrency: 1, timeout: '10m' },
};
const name = process.env.AVA_SUITE ?? 'fast';
const suite = Object.hasOwn(suites, name) ? suites[name] : undefined;
if (!suite) throw new Error(`AVA_SUITE must be one of ${Object.keys(suites).join(', ')}`);

export default { ...suite, workerThreads: false };
