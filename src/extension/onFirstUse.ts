/**
 * A window's feature object made on its first use, and its code loaded then: `make` import()s
 * the module (a chunk that activation does not load: lazyChunks in scripts/build.mjs) and makes
 * the object. Activation registers the feature's commands, views and serializers; their handlers
 * `get()` it. Disposing disposes the object: at once if it was made, else as soon as it is.
 */
import type * as vscode from 'vscode';

export interface FirstUse<T> extends vscode.Disposable {
  /** the object, made by the first call */
  get(): Promise<T>;
}

/** `T`: disposed with the window when it is a Disposable. */
export function onFirstUse<T extends object>(make: () => Promise<T>): FirstUse<T> {
  const disposeOf = (o: T) => (o as Partial<vscode.Disposable>).dispose?.();
  let made: Promise<T> | undefined;
  let object: T | undefined;
  let disposed = false;
  return {
    get: () =>
      (made ??= make().then((o) => {
        object = o;
        if (disposed) disposeOf(o);
        return o;
      })),
    dispose: () => {
      disposed = true;
      if (object) disposeOf(object);
    },
  };
}
