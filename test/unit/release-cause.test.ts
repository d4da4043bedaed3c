import test from 'ava';
import { releaseCause } from '../helpers/release-cause.js';

const line = (entry: object) => JSON.stringify({ level: 40, time: 1, ...entry });
const swept = (volume: string) => line({ volume, why: 'sweep', msg: 'released a mount or device that no lease and no container needs' });
const kept = (volume: string) =>
  line({ volume, users: 1, msg: 'kept mounted: no lease left, but the host still shows it in use (or could not be read)' });

test('no periodic release of the volume: its Unmount released it', (t) => {
  t.is(releaseCause([line({ msg: 'request' }), swept('other'), 'not json'].join('\n'), 'v'), 'unmount');
});

test('a periodic release after the Unmount kept the volume is the documented fallback', (t) => {
  t.is(releaseCause([kept('v'), swept('v')].join('\n'), 'v'), 'periodic check, after the unmount kept it');
});

test('a periodic release with no word from the Unmount means the Unmount did nothing', (t) => {
  t.is(releaseCause([kept('other'), swept('v')].join('\n'), 'v'), 'periodic check alone');
});
