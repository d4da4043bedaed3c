// Records keyed by user input (volume names, mount IDs, option keys and
// values) must treat "__proto__", "constructor" or "toString" as ordinary
// keys, never as something on Object.prototype: define, never assign; read
// own properties only.

/** `record[key]` when it is the record's own property; undefined otherwise. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** `target[key] = value`, as an own property even when the key is "__proto__". */
export function defineKey<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
