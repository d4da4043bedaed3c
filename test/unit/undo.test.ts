import test from 'ava';
import { RollbackError, withUndo } from '../../src/backings/undo.js';

test('on failure the undo steps run newest first, then the error is rethrown', async (t) => {
  const ran: string[] = [];
  await t.throwsAsync(
    withUndo(async (undo) => {
      undo.push('one', async () => ran.push('one'));
      undo.push('two', async () => ran.push('two'));
      throw new Error('step three failed');
    }),
    { message: 'step three failed' },
  );
  t.deepEqual(ran, ['two', 'one']);
});

test('on success nothing is undone', async (t) => {
  const ran: string[] = [];
  t.is(
    await withUndo(async (undo) => {
      undo.push('one', async () => ran.push('one'));
      return 7;
    }),
    7,
  );
  t.deepEqual(ran, []);
});

test('a failing undo step does not stop the others and is reported', async (t) => {
  const ran: string[] = [];
  const error = await t.throwsAsync(
    withUndo(async (undo) => {
      undo.push('first', async () => ran.push('first'));
      undo.push('second', async () => {
        throw new Error('busy');
      });
      throw new Error('original');
    }),
    { instanceOf: RollbackError },
  );
  t.deepEqual(ran, ['first']);
  t.regex(error?.message ?? '', /original; clean-up also failed at: second/);
});
