import net from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** whether the server closed the connection (the test waits for it, bounded) */
  closed: boolean
}

/**
 * Sends `chunks` on a fresh TCP connection, the bytes exactly as given, and
 * resolves with the first response once the server closes the connection, or
 * at `deadlineMs` with what arrived (closed: false), so a hang fails the test
 * instead of stalling it.
 */
export function rawRequest(
  port: number,
  chunks: string[],
  deadlineMs = 20_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let data = ''
    const finish = (closed: boolean) => {
      clearTimeout(deadline)
      socket.destroy()
      const end = data.indexOf('\r\n\r\n')
      if (end < 0) return resolve({ status: 0, headers: {}, body: data, closed })
      const [statusLine, ...lines] = data.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(
        lines.map((l) => [
          l.slice(0, l.indexOf(':')).toLowerCase(),
          l.slice(l.indexOf(':') + 1).trim(),
        ]),
      )
      resolve({
        status: Number(statusLine!.split(' ')[1]),
        headers,
        body: data.slice(end + 4),
        closed,
      })
    }
    const deadline = setTimeout(() => finish(false), deadlineMs)
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (data += d))
    socket.on('close', () => finish(true))
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? undefined : reject(err),
    )
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c)
    })
  })
}

/** A connection to write on at will; `untilClosed` resolves with every byte received once the server closes it. */
export function rawConnection(
  port: number,
  deadlineMs = 20_000,
): { write(data: string): void; untilClosed(): Promise<{ data: string; closed: boolean }> } {
  const socket = net.connect({ host: '127.0.0.1', port })
  let data = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => (data += d))
  socket.on('error', () => {})
  const closed = new Promise<{ data: string; closed: boolean }>((resolve) => {
    const deadline = setTimeout(() => {
      socket.destroy()
      resolve({ data, closed: false })
    }, deadlineMs)
    socket.on('close', () => {
      clearTimeout(deadline)
      resolve({ data, closed: true })
    })
  })
  return { write: (d) => socket.write(d), untilClosed: () => closed }
}
