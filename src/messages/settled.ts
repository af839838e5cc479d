// A promise's outcome as a value: batches of writes are submitted together, in order, and each
// item answered on its own, one refusal stopping none of the others.

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function settled<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}
