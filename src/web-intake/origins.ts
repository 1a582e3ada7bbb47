/**
 * A comma-separated list of page origins (`https://shop.example,http://localhost:3000`),
 * each exactly as a browser sends it in the Origin header: scheme, host and
 * port only. The list, or what is wrong with it.
 */
export function parseOrigins(text: string): string[] | string {
  const origins = text
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0)
  if (origins.length === 0) return 'name at least one origin, or "any"'
  for (const origin of origins) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return `"${origin}" is not an origin (scheme://host[:port])`
    }
    // A browser's Origin has no path, no trailing slash and a lower-case host: compare like with like.
    if (!/^https?:$/.test(url.protocol) || url.origin !== origin)
      return `"${origin}" is not an origin as browsers send it: write ${url.protocol.startsWith('http') ? `"${url.origin}"` : 'http(s)://host[:port]'}`
  }
  return [...new Set(origins)]
}
