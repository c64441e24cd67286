// Deadlines for waits in tests: a wait that outlives its deadline fails naming what never came,
// instead of hanging the run. Imports nothing from src/.

/** How long a test waits for an event that should come promptly; only reached when something is wrong. */
export const DEFAULT_TIMEOUT_MS = 4000;

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
