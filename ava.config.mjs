// Host suite by default; AVA_SUITE=guest selects the dm-crypt suite that
// test/vm/run-guest-suite.sh runs inside a QEMU guest.
const guest = process.env.AVA_SUITE === 'guest';

export default {
  files: guest ? ['dist/test/guest/**/*.test.js'] : ['dist/test/**/*.test.js', '!dist/test/guest/**'],
  concurrency: 1,
  timeout: guest ? '10m' : '3m',
  workerThreads: false,
};
