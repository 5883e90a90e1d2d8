/** A line a process prints once it is set up (a forked kernel's holder sandbox: forkLaunch.ts), kept out of its output tail. */
/** strips the start marker from stdout (once), resolving `marked` when it is seen */
export function markerWatch(
  marker: string | undefined,
  keep: (b: Buffer) => void,
): { marked: Promise<void>; onStdout: (b: Buffer) => void } {
  if (!marker) return { marked: Promise.resolve(), onStdout: keep };
  let seen = false;
  let head = '';
  let resolve!: () => void;
  const marked = new Promise<void>((r) => (resolve = r));
  const onStdout = (b: Buffer) => {
    if (seen) return keep(b);
    head += b.toString('utf8');
    const at = head.indexOf(`${marker}\n`);
    if (at < 0) return;
    seen = true;
    const rest = head.slice(0, at) + head.slice(at + marker.length + 1);
    if (rest) keep(Buffer.from(rest));
    resolve();
  };
  return { marked, onStdout };
}
