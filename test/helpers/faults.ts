import { createSystemTools, type SystemTools } from '../../src/system/index.js';

export type ToolName = keyof SystemTools;

/**
 * The real system tools, except that `step` fails on its `nth` call (1-based)
 * after doing nothing. Every other step runs for real.
 */
export function toolsFailingAt(step: ToolName, nth = 1, timeoutMs = 20_000): SystemTools {
  const tools = createSystemTools(timeoutMs);
  const real = tools[step] as (...args: unknown[]) => Promise<unknown>;
  let calls = 0;
  const faulty = async (...args: unknown[]) => {
    calls += 1;
    if (calls === nth) throw new Error(`injected failure in ${step}`);
    return real(...args);
  };
  return { ...tools, [step]: faulty } as SystemTools;
}
