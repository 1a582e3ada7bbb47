// A MaxMind DB (.mmdb) small enough to write by hand, for the GeoIP test: no
// writer package is on npm for Node (mmdb-writer is not published), and the
// format is short (https://maxmind.github.io/MaxMind-DB/). One search-tree
// node, both of whose records point at the same data: every IPv4 address is
// in `country`.

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8')
  return Buffer.concat([Buffer.from([0x40 | b.length]), b])
}
const map = (entries: Array<[string, Buffer]>) =>
  Buffer.concat([Buffer.from([0xe0 | entries.length]), ...entries.flatMap(([k, v]) => [str(k), v])])
const uint16 = (n: number) => Buffer.from([0xa0 | 2, n >> 8, n & 0xff])
const uint32 = (n: number) => {
  const b = Buffer.alloc(5)
  b[0] = 0xc0 | 4
  b.writeUInt32BE(n, 1)
  return b
}
const emptyArray = () => Buffer.from([0x00, 0x04]) // extended type 11, size 0

export function tinyCountryDb(isoCode: string): Buffer {
  const nodeCount = 1
  const record = nodeCount + 16 // the first byte of the data section
  const node = Buffer.alloc(6)
  node.writeUIntBE(record, 0, 3)
  node.writeUIntBE(record, 3, 3)
  const data = map([['country', map([['iso_code', str(isoCode)]])]])
  const metadata = map([
    ['node_count', uint32(nodeCount)],
    ['record_size', uint16(24)],
    ['ip_version', uint16(4)],
    ['database_type', str('Test-Country')],
    ['languages', emptyArray()],
    ['binary_format_major_version', uint16(2)],
    ['binary_format_minor_version', uint16(0)],
    ['build_epoch', uint32(1_790_000_000)],
    ['description', map([])],
  ])
  return Buffer.concat([
    node,
    Buffer.alloc(16),
    data,
    Buffer.from([0xab, 0xcd, 0xef]),
    Buffer.from('MaxMind.com'),
    metadata,
  ])
}
