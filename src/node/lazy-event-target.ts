// An EventTarget whose listener tables are created on first use. Node's EventTarget constructor
// allocates two Maps per instance; a server-side connection used only through the `ws`-style
// on() API never needs them, and at 10,000 connections they are a large share of the heap.

/** The symbol-keyed fields Node's EventTarget constructor sets on each instance (its whole state). */
const STATE_KEYS = Object.getOwnPropertySymbols(new EventTarget());

/** A constructor that builds nothing: instances get EventTarget's prototype and brand, not its state. */
function EventTargetWithoutState(): void {}
Object.setPrototypeOf(EventTargetWithoutState.prototype, EventTarget.prototype);
Object.setPrototypeOf(EventTargetWithoutState, EventTarget); // static brand node checks on `this.constructor`

// Should a Node version keep that state elsewhere (nothing to find), fall back to the real constructor.
const Base = (STATE_KEYS.length > 0 ? EventTargetWithoutState : EventTarget) as unknown as typeof EventTarget;

export class LazyEventTarget extends Base {
  /** Marks instances (prototypes have no own copy), so only they get state. */
  private readonly lazyEventTarget = true;
}

/** Gives `target` the state EventTarget's constructor would have set, as own properties. */
function createState(target: object): void {
  const fresh = new EventTarget();
  for (const key of STATE_KEYS) Object.defineProperty(target, key, Object.getOwnPropertyDescriptor(fresh, key)!);
}

function isInstance(target: object): boolean {
  return Object.hasOwn(target, 'lazyEventTarget');
}

// Until an instance has its own state, the first read or write of any state field (by
// addEventListener, dispatchEvent, events.getEventListeners…) lands on these accessors and creates it.
if (Base === (EventTargetWithoutState as unknown)) {
  for (const key of STATE_KEYS) {
    Object.defineProperty(LazyEventTarget.prototype, key, {
      configurable: true,
      get(this: object): unknown {
        if (!isInstance(this)) return undefined;
        createState(this);
        return (this as Record<symbol, unknown>)[key];
      },
      set(this: object, value: unknown) {
        if (!isInstance(this)) return;
        createState(this);
        (this as Record<symbol, unknown>)[key] = value;
      },
    });
  }
}
