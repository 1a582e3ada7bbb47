// PostgreSQL's jsonb refuses the escapes \u0000 and lone-surrogate \udXXX,
// which JSON.stringify writes for NUL and for broken UTF-16. A refused message
// may hold either (that can be why it was refused), and is kept all the same:
// those escapes become U+FFFD. An odd run of backslashes before the "u" makes
// it an escape; an even run is escaped backslashes followed by the text "u".
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/g

/** `value` as JSON text that jsonb takes, with what it cannot hold replaced by U+FFFD. */
export function storableJson(value: unknown): string {
  const text = JSON.stringify(value)
  return text.includes('\\u') ? text.replace(UNSTORABLE_ESCAPE, '$1\\ufffd') : text
}

/** How deeply `value` nests objects and arrays (itself included), counted without recursion; stops past `max`. */
export function nestingOver(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (node === null || typeof node !== 'object') continue
    if (depth > max) return true
    for (const child of Object.values(node as object))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
  return false
}
