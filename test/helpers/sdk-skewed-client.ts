// Run as a child process: one real SDK on a machine whose clock is off by
// `skew` ms, sending one event. The service must store it at its own time
// (received − (sentAt − client time)), not at the client's.
//   node --import tsx sdk-skewed-client.ts <client id> <host> <key> <skew ms>
const [id, host, key, skewText] = process.argv.slice(2)
const skew = Number(skewText)
const RealDate = Date

// Every Date the client makes (new Date(), Date.now()) reads the skewed clock;
// timers run on the monotonic clock and are unaffected.
class SkewedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + skew)
    else super(...(args as [number]))
  }
  static override now(): number {
    return RealDate.now() + skew
  }
}
globalThis.Date = SkewedDate as DateConstructor

const { SDK_CLIENTS } = await import('./sdk-clients.ts')
const client = SDK_CLIENTS[id!]
if (!client) throw new Error(`no SDK client ${id}`)
const properties = { seq: 99, clock: 'skewed' }
let failures: string[]
if (client.family === 'segment') {
  const run = client.open(host!, key!)
  run.calls.track({ userId: 'u-skewed', event: 'Skewed Clock', properties })
  await run.finish()
  failures = run.failures
} else {
  const run = client.open(host!, key!)
  run.calls.capture({ distinctId: 'u-skewed', event: 'Skewed Clock', properties })
  await run.finish()
  failures = run.failures
}
process.stdout.write(JSON.stringify({ failures }))
