// Explicit rollback: each step that changed the host pushes its inverse; on
// failure the inverses run newest-first, and every one runs even if another
// fails. (docker-lvm-plugin's deferred rollback never ran: a shadowed `err`.)

export type UndoStep = () => Promise<unknown>;

export class UndoStack {
  private readonly steps: Array<{ label: string; step: UndoStep }> = [];

  push(label: string, step: UndoStep): void {
    this.steps.push({ label, step });
  }

  /** Runs all inverses newest-first; returns the labels of those that failed. */
  async unwind(): Promise<Array<{ label: string; error: unknown }>> {
    const failures: Array<{ label: string; error: unknown }> = [];
    for (const { label, step } of this.steps.reverse()) {
      try {
        await step();
      } catch (error) {
        failures.push({ label, error });
      }
    }
    this.steps.length = 0;
    return failures;
  }
}

export class RollbackError extends Error {
  constructor(
    readonly original: unknown,
    readonly failures: Array<{ label: string; error: unknown }>,
  ) {
    super(
      `${original instanceof Error ? original.message : String(original)}; ` +
        `clean-up also failed at: ${failures.map((f) => f.label).join(', ')}`,
      { cause: original },
    );
    this.name = 'RollbackError';
  }
}

/** Runs `work`; if it throws, unwinds what it pushed and rethrows. */
export async function withUndo<T>(work: (undo: UndoStack) => Promise<T>): Promise<T> {
  const undo = new UndoStack();
  try {
    return await work(undo);
  } catch (error) {
    const failures = await undo.unwind();
    if (failures.length > 0) throw new RollbackError(error, failures);
    throw error;
  }
}
