import type { CallCancellation } from '@dynmcp/plugin';

/**
 * The cancellation of one call: a flag and its listeners, with an `AbortSignal` made only for
 * whoever asks for one. Every tool call needs a way to be cancelled (the client closes its stream,
 * sends `notifications/cancelled`, the gateway stops), but on Node 20 an `AbortController`, its
 * signal and the signal's event listeners cost several microseconds per call, a noticeable share of
 * a gateway call to a fast upstream. The built-in executor listens through {@link onAbort}; an
 * executor that reads `ToolCallContext.signal` gets a real signal, aborted with the call.
 */
export class Cancellation implements CallCancellation {
  #aborted = false;
  #listeners: Array<() => void> | undefined;
  #controller: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** A signal aborted with this call (at once if it already was); made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** Cancels the call: runs every listener once, then aborts the signal if one was made. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
    this.#controller?.abort();
  }

  onAbort(listener: () => void): () => void {
    if (this.#aborted) {
      listener();
      return noop;
    }
    (this.#listeners ??= []).push(listener);
    return () => {
      const index = this.#listeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.#listeners?.splice(index, 1);
    };
  }

  /** The cancellation of a call that arrived with a signal of its own (the SDK's): aborted with it. */
  static of(signal: AbortSignal): Cancellation {
    const cancellation = new Cancellation();
    if (signal.aborted) cancellation.abort();
    else signal.addEventListener('abort', () => cancellation.abort(), { once: true });
    return cancellation;
  }
}

const noop = () => undefined;

/** `context.cancellation`, or one that follows `context.signal` for contexts made without it (tests, older callers). */
export function cancellationOf(context: { signal: AbortSignal; cancellation?: CallCancellation }): CallCancellation {
  return context.cancellation ?? Cancellation.of(context.signal);
}
