// Records keyed by user-supplied strings (volume names, mount IDs) must treat
// "__proto__" or "constructor" as ordinary keys: define, never assign.
export function defineKey<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
