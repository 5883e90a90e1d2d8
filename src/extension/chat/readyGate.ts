/**
 * Waiters for the chat's webview to say `ready` (its script and styles loaded). "Ask about image"
 * waits for it before it opens the image preview: two webviews loading at the same moment can
 * leave one blank in VS Code for the web (code-server), where all webviews share one
 * service-worker registration and each load replaces its worker (test/e2e/README.md).
 */
export class ReadyGate {
  private waiters: Array<() => void> = [];

  /** true once the webview is ready; false after `timeoutMs` without it */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.push(onReady);
    });
  }

  open(): void {
    for (const w of this.waiters.slice()) w();
  }
}
