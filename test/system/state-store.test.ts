import test, { type ExecutionContext } from 'ava';
import { StateStore } from '../../src/state/store.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { lease, plainRecord as record } from '../helpers/records.js';

// Writes that really fail: chattr +i makes the state directory immutable, and
// only root may set that flag (as root, no mode bit would stop a write).

/** A state directory that a test can make immutable: even root's writes then really fail. */
async function freezable(t: ExecutionContext): Promise<{ dir: string; freeze: () => Promise<unknown>; thaw: () => Promise<unknown> }> {
  const { execa } = await import('execa');
  const dir = await makeTempDir('state');
  const thaw = () => execa('chattr', ['-i', dir], { reject: false });
  t.teardown(async () => {
    await thaw();
    await removeTempDir(dir);
  });
  return { dir, freeze: () => execa('chattr', ['+i', dir]), thaw };
}

test('update applies a change durably, or takes it back when the write fails', async (t) => {
  const { dir, freeze } = await freezable(t);
  const store = await StateStore.open(dir);
  await store.put(record('v'));
  await store.update('v', (r) => ({ ...r, leases: { A: lease(1) } }));
  t.deepEqual((await StateStore.open(dir)).get('v')?.leases, { A: lease(1) });
  await freeze();
  await t.throwsAsync(store.update('v', (r) => ({ ...r, leases: {} })));
  t.deepEqual(store.get('v')?.leases, { A: lease(1) }, 'memory kept the lease it could not drop on disk');
});

test('a change that cannot be written is taken back: memory never runs ahead of disk', async (t) => {
  const { dir, freeze, thaw } = await freezable(t);
  const store = await StateStore.open(dir);
  await store.put(record('kept'));
  // Immutable directory: even root cannot create the temp file, so the write really fails.
  await freeze();
  await t.throwsAsync(store.put(record('lost')));
  t.is(store.get('lost'), undefined);
  await t.throwsAsync(store.delete('kept'));
  t.truthy(store.get('kept'));
  await thaw();
  t.deepEqual(
    (await StateStore.open(dir)).all().map((r) => r.name),
    ['kept'],
  );
});
