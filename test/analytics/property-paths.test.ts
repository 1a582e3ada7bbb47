import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pathsOfStructures } from '../../src/analytics/property-paths.ts'

test('pathsOfStructures: every key, objects included, arrays not descended, unnameable keys skipped', () => {
  const paths = pathsOfStructures([
    JSON.stringify({
      country: 'VARCHAR',
      device: { os: 'VARCHAR', 'bad key': 'UBIGINT' },
      tags: ['VARCHAR'],
      list: [{ a: 'UBIGINT' }],
    }),
    JSON.stringify({ country: 'VARCHAR', amount: 'DOUBLE', 'a.b': 'VARCHAR' }),
  ])
  assert.deepEqual([...paths].sort(), [
    '$."amount"',
    '$."country"',
    '$."device"',
    '$."device"."os"',
    '$."list"',
    '$."tags"',
  ])
})
