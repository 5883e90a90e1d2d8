/**
 * The errors that mean "that process is gone", for the places that signal or inspect a process
 * which may have exited meanwhile. Anything else (a bad signal name, an unreadable /proc) is a
 * real failure and propagates.
 */

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** `process.kill` failed because the process has exited (ESRCH) or its pid now belongs to another user (EPERM). */
export function isProcessGone(e: unknown): boolean {
  const c = code(e);
  return c === 'ESRCH' || c === 'EPERM';
}

/**
 * Reading `/proc/<pid>/…` failed because the process exited between listing and reading
 * (ENOENT, ESRCH), or because it is another user's and /proc is mounted with hidepid (EACCES).
 */
export function isOtherOrGoneProcEntry(e: unknown): boolean {
  const c = code(e);
  return c === 'ENOENT' || c === 'ESRCH' || c === 'EACCES';
}
