// An EventTarget whose listener tables are created on first use. Node's EventTarget constructor
// allocates two Maps per instance; a server-side connection used only through the `ws`-style
// on() API never needs them, and at 10,000 connections they are a large share of the heap.

/** A constructor that builds nothing: instances get EventTarget's prototype and brand, not its state. */
function EventTargetWithoutState(): void {}
Object.setPrototypeOf(EventTargetWithoutState.prototype, EventTarget.prototype);
Object.setPrototypeOf(EventTargetWithoutState, EventTarget); // static brand node checks on `this.constructor`

const Base = EventTargetWithoutState as unknown as typeof EventTarget;

export class LazyEventTarget extends Base {
  private eventTargetReady = false;

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    this.prepareEventTarget();
    super.addEventListener(type, listener, options);
  }

  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    this.prepareEventTarget(); // even here, so argument errors stay EventTarget's own
    super.removeEventListener(type, listener, options);
  }

  override dispatchEvent(event: Event): boolean {
    this.prepareEventTarget();
    return super.dispatchEvent(event);
  }

  /** Gives this object the state EventTarget's constructor would have set (its symbol-keyed fields). */
  private prepareEventTarget(): void {
    if (this.eventTargetReady) return;
    this.eventTargetReady = true;
    const fresh = new EventTarget() as unknown as Record<symbol, unknown>;
    const self = this as unknown as Record<symbol, unknown>;
    for (const key of Object.getOwnPropertySymbols(fresh)) self[key] = fresh[key];
  }
}
