/**
 * What one request's upstream call and readers watch to learn the request ended early: the
 * client went away or its key was revoked. The part of AbortSignal they use; undici takes any
 * object with addEventListener / removeEventListener as a signal.
 */
export interface RequestSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * An AbortController for one request, and its signal, in a few fields: on Node 20 creating an
 * AbortController with its signal costs ≈ 2 µs and undici's listener on it ≈ 1.5 µs more, on
 * every request, where this costs tens of nanoseconds. Each listener runs once, on the abort.
 */
export class RequestAbort implements RequestSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] = [];

  /** The signal side, for symmetry with AbortController: this object itself. */
  get signal(): RequestSignal {
    return this;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        // As EventTarget does: a failing listener neither stops the others nor the caller.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }
}
