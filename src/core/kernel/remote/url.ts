/**
 * Jupyter server URLs as the remote backend and the kernel picker read them. No network and no
 * `@jupyterlab/services` here, so that the extension can load it at activation for nothing.
 */
import { KernelLaunchError } from '../errors';

/** The server's base URL, normalized (one trailing slash), or a clear error for a malformed one. */
export function normalizeServerUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new KernelLaunchError({
      reason: `"${url}" is not a Jupyter server URL`,
      fix: 'give the base URL the server prints, e.g. http://127.0.0.1:8888/ (the token goes in JUPYTER_TOKEN, not the URL)',
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new KernelLaunchError({
      reason: `the Jupyter server URL "${url}" must start with http:// or https://`,
      fix: 'give the base URL the server prints, e.g. http://127.0.0.1:8888/',
    });
  }
  return `${u.origin}${u.pathname.replace(/\/*$/, '/')}`;
}

/** the token carried in a URL's `?token=` (as Jupyter prints it), if any */
export function tokenFromUrl(url: string): string | undefined {
  try {
    return new URL(url.trim()).searchParams.get('token') ?? undefined;
  } catch {
    return undefined;
  }
}

/** How the server is named in messages: its URL without credentials (core/secrets). */
export { displayUrl } from '../../secrets';
