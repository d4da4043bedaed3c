// Option keys and values are user input: "constructor", "toString" or
// "__proto__" must never find something on Object.prototype. Every lookup
// keyed by user input goes through own properties only.

/** `record[key]` when it is the record's own property; undefined otherwise. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
