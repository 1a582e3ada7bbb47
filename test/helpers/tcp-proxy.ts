import net from 'node:net'

/**
 * A TCP forwarder in front of a real server, to make that server unreachable
 * for a while without stopping it for everybody else on the machine.
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>()
  private server: net.Server
  private cut = false
  port = 0

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.cut) return client.destroy()
      const upstream = net.connect(this.target)
      this.sockets.add(client).add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        this.sockets.delete(client)
        this.sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream).pipe(client)
    })
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  /** Drops every open connection and refuses new ones until restore(). */
  interrupt(): void {
    this.cut = true
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  restore(): void {
    this.cut = false
  }

  async close(): Promise<void> {
    this.interrupt()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
