/**
 * One key of a Durable Object's storage that only the object itself writes: read from storage
 * once per wake-up, then served from memory. The keys an agent's every frame consults (which
 * socket is current, whether a retry is due) would otherwise be a SQLite read each.
 * Used only by AgentObject.
 */
export class StoredValue<T> {
  #read = false;
  #value: T | undefined;

  constructor(
    private readonly kv: SyncKvStorage,
    private readonly key: string,
  ) {}

  get(): T | undefined {
    if (!this.#read) {
      this.#value = this.kv.get<T>(this.key);
      this.#read = true;
    }
    return this.#value;
  }

  /** `undefined` deletes the key; a value known to be stored already is not written again. */
  set(value: T | undefined): void {
    if (this.#read && this.#value === value) return;
    if (value === undefined) this.kv.delete(this.key);
    else this.kv.put(this.key, value);
    this.#value = value;
    this.#read = true;
  }
}
