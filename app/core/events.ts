// Fan-out of server events (run status and progress, imports) to every connected front end.
import type { ServerEvent } from "./api/contract.ts";

export type EventListener = (event: ServerEvent) => void;

export class EventHub {
  readonly #listeners = new Set<EventListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(event: ServerEvent): void {
    for (const listener of this.#listeners) {
      // One broken subscriber (a closed socket) must not starve the others.
      try {
        listener(event);
      } catch {}
    }
  }

  get size(): number {
    return this.#listeners.size;
  }
}
