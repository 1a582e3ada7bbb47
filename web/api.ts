// Every request the page makes to the API goes through here: it adds the read
// key kept for this browser session, and turns an error answer (RFC 9457
// problem JSON) into a message a person can act on.

const KEY = 'event-analytics:read-key'

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY)
}

export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key)
  else sessionStorage.removeItem(KEY)
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** seconds, from Retry-After on a 429 or 503 */
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

interface ProblemBody {
  title?: string
  detail?: string
  errors?: Array<{ field: string; message: string }>
}

function explain(status: number, problem: ProblemBody, retryAfter: number | undefined): string {
  const detail = problem.detail ?? ''
  switch (status) {
    case 401:
      return storedKey()
        ? `The API key was refused: ${detail}. Enter another one above.`
        : 'This service needs an API key with read access: enter one above.'
    case 403:
      return `This API key may not read these figures: ${detail}.`
    case 429:
      return `Too many requests: the API's rate limit was reached.${retryAfter ? ` Try again in ${retryAfter} s.` : ''}`
    case 422: {
      const fields = (problem.errors ?? []).map((e) => `${e.field} ${e.message}`).join('; ')
      return `The API refused the request: ${fields || detail}.`
    }
    default:
      return `The API answered ${status} ${problem.title ?? ''}${detail ? `: ${detail}` : ''}.`
  }
}

/** GET a JSON document from the API; throws ApiError (or an AbortError when cancelled). */
export async function getJson<T>(
  path: string,
  params?: URLSearchParams,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const key = storedKey()
  if (key) headers.authorization = `Bearer ${key}`
  const query = params?.toString()
  let res: Response
  try {
    res = await fetch(query ? `${path}?${query}` : path, { headers, signal })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, 'The service could not be reached. Is it running?')
  }
  if (res.ok) return (await res.json()) as T
  let problem: ProblemBody = {}
  try {
    problem = (await res.json()) as ProblemBody
  } catch {
    // not problem JSON (a proxy's page, say): the status still says enough
  }
  const retry = Number(res.headers.get('retry-after'))
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined
  throw new ApiError(res.status, explain(res.status, problem, retryAfter), retryAfter)
}
