// Named steps of Create, Mount, Unmount and Remove. In production a
// checkpoint does nothing. Fault tests set CUSTOM_TEST_PAUSE_AT=<step>: the
// plugin then writes a marker file and stops at that step for ever, so the
// test can SIGKILL it exactly there and check what a restart makes of it.

export type Checkpoint = (step: string) => Promise<void>;

export const noCheckpoints: Checkpoint = () => Promise.resolve();

export function pauseAt(target: string, marker: (step: string) => Promise<void>): Checkpoint {
  return async (step) => {
    if (step !== target) return;
    await marker(step);
    await new Promise<never>(() => undefined);
  };
}

/** Wraps one function of a tools object so that the checkpoint `tool:<name>` runs after it succeeds. */
export function pauseAfterTool<T extends object>(tools: T, name: string, checkpoint: Checkpoint): T {
  const real = (tools as Record<string, unknown>)[name];
  if (typeof real !== 'function') return tools;
  const wrapped = async (...args: unknown[]) => {
    const result: unknown = await (real as (...a: unknown[]) => Promise<unknown>)(...args);
    await checkpoint(`tool:${name}`);
    return result;
  };
  return { ...tools, [name]: wrapped };
}
