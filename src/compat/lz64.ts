import LZString from 'lz-string'

// PostHog's older browser clients send LZString.compressToBase64(json). Its
// decoder has no bound on what it produces, and a crafted input of n codes
// can make it build n²/2 characters (each entry one longer than the last):
// minutes of a blocked event loop from a few hundred kilobytes. So the codes
// are first walked for lengths only (integers, not strings), which costs one
// pass over the input, and the real decoder runs only when the result fits.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='
const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]))
// lz-string's base64 codec reads 6 bits a character, most significant first.
const RESET = 32

/**
 * How many characters LZString.decompressFromBase64(input) returns, walking
 * its codes exactly as it does; `max + 1` as soon as the result would pass
 * `max`, and undefined where lz-string returns null or "" (not its format).
 */
export function lz64Length(input: string, max: number): number | undefined {
  if (input.length === 0) return undefined
  let val = VALUE.get(input.charAt(0)) ?? 0
  let position = RESET
  let index = 1
  const read = (bits: number): number => {
    let out = 0
    for (let power = 1, n = 0; n < bits; n++, power *= 2) {
      const bit = val & position
      position >>= 1
      if (position === 0) {
        position = RESET
        val = VALUE.get(input.charAt(index++)) ?? 0
      }
      if (bit > 0) out += power
    }
    return out
  }
  // The dictionary's entry lengths: codes 0 to 2 are markers, not entries.
  const lengths: number[] = [0, 0, 0]
  let enlargeIn = 4
  let numBits = 3
  const first = read(2)
  // 2 is lz-string's end mark; 3 is no code at all (it would go on with an undefined first character).
  if (first > 1) return undefined
  read(first === 0 ? 8 : 16)
  lengths.push(1)
  let w = 1
  let total = 1
  for (;;) {
    if (index > input.length) return undefined
    let c = read(numBits)
    if (c === 2) return total
    if (c === 0 || c === 1) {
      read(c === 0 ? 8 : 16)
      lengths.push(1)
      c = lengths.length - 1
      enlargeIn--
    }
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits
      numBits++
    }
    let entry: number
    if (c < lengths.length) entry = lengths[c]!
    else if (c === lengths.length) entry = w + 1
    else return undefined
    total += entry
    if (total > max) return max + 1
    lengths.push(w + 1)
    enlargeIn--
    w = entry
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits
      numBits++
    }
  }
}

/** The text an lz64 body holds; undefined when it is not lz64, or would be longer than `max` characters (see `tooLong`). */
export function decodeLz64(
  input: string,
  max: number,
): { text: string } | { tooLong: true } | undefined {
  const length = lz64Length(input, max)
  if (length === undefined) return undefined
  if (length > max) return { tooLong: true }
  let text: string | null
  try {
    text = LZString.decompressFromBase64(input)
  } catch {
    return undefined
  }
  return typeof text === 'string' && text.length > 0 ? { text } : undefined
}
