// The browser script served at /script.js (src/web-intake/script.ts bundles it):
//   <script defer src="https://HOST/script.js" data-key="PUBLIC_KEY"></script>
// Page views on load and on single-page-app navigations (data-hash="true":
// hash changes too), window.eventAnalytics.track(name, props) and
// .identify(id, traits). Dependency-free and small: it is in every page.
// No cookie; localStorage only once the project has turned on persistent
// visitor ids (the server says so in its answer).

interface Message {
  type: 'event' | 'identify'
  event_id: string
  timestamp: number
  event_type?: string
  properties?: Record<string, unknown>
  user_id?: string
  traits?: Record<string, unknown>
}

interface Answer {
  anonymous_id?: string
  forget_anonymous_id?: boolean
}

declare global {
  interface Navigator {
    globalPrivacyControl?: boolean
  }
  interface Window {
    eventAnalytics?: {
      track(name: string, properties?: Record<string, unknown>): void
      identify(id: string, traits?: Record<string, unknown>): void
    }
  }
}

const ANON = 'ea_aid'
const USER = 'ea_uid'
// Small batches: what happens within this long goes in one request.
const DELAY_MS = 200
const MAX_BATCH = 20

const w = window
const d = document
const loc = location
const me = (d.currentScript ?? d.querySelector('script[data-key]')) as HTMLScriptElement | null

function storage(): Storage | undefined {
  try {
    return w.localStorage
  } catch {
    return undefined // disabled, or a sandboxed frame
  }
}

/** A v4 UUID: crypto.randomUUID where there is one (secure contexts), else from getRandomValues. */
function uuid(): string {
  const c = w.crypto
  if (c?.randomUUID) return c.randomUUID()
  const b = new Uint8Array(16)
  if (c?.getRandomValues) c.getRandomValues(b)
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

if (me?.dataset.key) {
  const key = me.dataset.key
  const hashMode = me.dataset.hash === 'true'
  const endpoint = me.dataset.api ?? `${new URL(me.src, loc.href).origin}/collect`
  const store = storage()
  // Set only when the server asked for a persistent id (see Answer).
  let anonymousId = store?.getItem(ANON) ?? undefined
  let userId = (anonymousId && store?.getItem(USER)) || undefined
  let queue: Message[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let retryMs = 1000
  let lastPage: string | undefined
  let lastTime = 0
  // Strictly increasing within the page, so what happened in one millisecond keeps its order.
  const now = () => {
    lastTime = Math.max(Date.now(), lastTime + 1)
    return lastTime
  }

  const body = (messages: Message[]) =>
    JSON.stringify({
      key,
      sent_at: Date.now(),
      ...(anonymousId ? { anonymous_id: anonymousId } : {}),
      ...(navigator.globalPrivacyControl === true ? { gpc: true } : {}),
      messages,
    })

  const learn = (answer: Answer) => {
    if (answer.anonymous_id && answer.anonymous_id !== anonymousId) {
      anonymousId = answer.anonymous_id
      store?.setItem(ANON, anonymousId)
      if (userId) store?.setItem(USER, userId)
    }
    if (answer.forget_anonymous_id) {
      anonymousId = undefined
      store?.removeItem(ANON)
      store?.removeItem(USER)
    }
  }

  const schedule = (ms: number) => {
    if (timer === undefined) timer = setTimeout(flush, ms)
  }

  // fetch with keepalive outlives the page; a failed send is sent again with the
  // same event ids, which the server stores once.
  function flush() {
    timer = undefined
    if (queue.length === 0) return
    const batch = queue.slice(0, MAX_BATCH)
    queue = queue.slice(MAX_BATCH)
    fetch(endpoint, {
      method: 'POST',
      body: body(batch),
      keepalive: true,
      // text/plain: a "simple" request, so no preflight round trip.
      headers: { 'content-type': 'text/plain' },
      credentials: 'omit',
    })
      .then((res) => {
        if (res.status >= 500 || res.status === 429) throw new Error(String(res.status))
        retryMs = 1000
        return res.ok ? res.json().then(learn) : undefined
      })
      .catch(() => {
        queue = batch.concat(queue)
        retryMs = Math.min(retryMs * 2, 60_000)
        schedule(retryMs)
      })
    if (queue.length > 0) schedule(0)
  }

  // When the page is hidden or goes away, what is left goes as a beacon, which
  // the browser delivers after the page is gone (it cannot set headers: the key is in the body).
  const beacon = () => {
    clearTimeout(timer)
    timer = undefined
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH)
      if (!navigator.sendBeacon?.(endpoint, body(batch))) return flush()
      queue = queue.slice(MAX_BATCH)
    }
  }

  const send = (m: Message) => {
    queue.push(m)
    if (queue.length >= MAX_BATCH) flush()
    else schedule(DELAY_MS)
  }

  const event = (name: string, properties: Record<string, unknown>) =>
    send({
      type: 'event',
      event_id: uuid(),
      timestamp: now(),
      event_type: name,
      properties,
      ...(userId ? { user_id: userId } : {}),
    })

  const page = () => {
    const path = loc.pathname + (hashMode ? loc.hash : '')
    // replaceState with the same address, a popstate back to it: not a new page.
    if (path === lastPage) return
    lastPage = path
    const q = new URLSearchParams(loc.search)
    const props: Record<string, unknown> = {
      path,
      title: d.title,
      referrer: d.referrer,
      host: loc.hostname,
      screen_width: screen.width,
      language: navigator.language,
    }
    for (const u of ['source', 'medium', 'campaign', 'term', 'content'])
      props[`utm_${u}`] = q.get(`utm_${u}`) ?? ''
    event('page_view', props)
  }

  for (const name of ['pushState', 'replaceState'] as const) {
    const original = history[name]
    history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args)
      page()
    }
  }
  w.addEventListener('popstate', page)
  if (hashMode) w.addEventListener('hashchange', page)
  d.addEventListener('visibilitychange', () => {
    if (d.visibilityState === 'hidden') beacon()
  })
  w.addEventListener('pagehide', beacon)

  w.eventAnalytics = {
    track: (name, properties = {}) => event(String(name), properties),
    identify: (id, traits = {}) => {
      userId = String(id)
      if (anonymousId) store?.setItem(USER, userId)
      send({
        type: 'identify',
        event_id: uuid(),
        timestamp: now(),
        user_id: userId,
        traits,
      })
    },
  }
  page()
}

export {}
