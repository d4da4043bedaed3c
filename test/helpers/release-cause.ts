// Who released a volume, read from the plugin's own JSON log. A release the
// tests wait for may come from Docker's Unmount, or, when a stopped
// container's mount namespace lingered past Unmount's 3 s settle, from the
// periodic lease check: the Unmount then logs that it kept the volume. A
// release by the periodic check with no such line means the Unmount did
// nothing, which is what these tests exist to catch.

export type ReleaseCause = 'unmount' | 'periodic check, after the unmount kept it' | 'periodic check alone';

const KEPT = 'kept mounted: no lease left';
const SWEPT = 'released a mount or device that no lease and no container needs';

export function releaseCause(log: string, volume: string): ReleaseCause {
  let kept = false;
  let swept = false;
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { volume?: unknown; msg?: unknown; why?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.volume !== volume || typeof entry.msg !== 'string') continue;
    if (entry.msg.startsWith(KEPT)) kept = true;
    if (entry.msg === SWEPT && entry.why === 'sweep') swept = true;
  }
  if (!swept) return 'unmount';
  return kept ? 'periodic check, after the unmount kept it' : 'periodic check alone';
}
