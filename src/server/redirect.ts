/**
 * The one rule for where the server may send a browser next (`?next=` after sign-in,
 * `?then=` when a run ends): a path on this site, as a browser would read it. The
 * value is parsed as a URL against a placeholder origin and must keep that origin;
 * backslashes (which browsers read as slashes) and control characters (which they
 * strip, so `/\t/x` becomes `//x`) are refused in the raw text and once decoded.
 */
const BASE = 'http://aidlink.invalid';
const UNSAFE_CHARS = /[\\\u0000-\u001f\u007f]/;

/** The path to send the browser to, or undefined when `target` could leave this site. */
export function localRedirect(target: unknown): string | undefined {
  if (typeof target !== 'string' || target.length === 0 || target.length > 2000) return undefined;
  if (!target.startsWith('/') || target.startsWith('//')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    return undefined;
  }
  if (UNSAFE_CHARS.test(target) || UNSAFE_CHARS.test(decoded) || decoded.startsWith('//')) return undefined;
  let url: URL;
  try {
    url = new URL(target, BASE);
  } catch {
    return undefined;
  }
  // dot segments can leave a path that starts with // (`/.//x`): a browser would read that as another host
  if (url.origin !== BASE || url.pathname.startsWith('//')) return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}
