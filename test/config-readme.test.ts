import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { EnvSchema } from '../src/config.ts'

// The README's configuration table is what users read; the schema is what runs.
// Holding one to the other keeps a default from living in two places that drift.

interface Row {
  names: string[]
  /** the backticked defaults, in the order of the names; undefined where the cell says it in words */
  defaults: Array<string | undefined>
}

function configurationTable(readme: string): Row[] {
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0]
  assert.ok(section, 'the README has a "## Configuration" section')
  const rows = section.split('\n').filter((line) => /^\|\s*`/.test(line))
  return rows.map((line) => {
    const [nameCell, defaultCell] = line
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim())
    const names = [...nameCell!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!)
    const parts = defaultCell!.split(/,\s+/)
    const defaults = names.map((_, i) => {
      const m = /^`([^`]*)`$/.exec(parts[i]?.trim() ?? '')
      return m ? m[1] : undefined
    })
    return { names, defaults }
  })
}

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const table = configurationTable(readme)
const schema = EnvSchema.properties as Record<string, { default?: unknown }>

test('the README lists every variable of the environment schema, and only those', () => {
  const listed = table.flatMap((r) => r.names).sort()
  assert.deepEqual(listed, Object.keys(schema).sort())
})

test("every default in the README's configuration table is the schema's", () => {
  for (const { names, defaults } of table) {
    names.forEach((name, i) => {
      const fromSchema = schema[name]?.default
      if (fromSchema === undefined) {
        // A variable without a schema default (unset, or derived from another) must not show a literal one.
        assert.ok(
          defaults[i] === undefined || /^\$|^unset/.test(defaults[i]!),
          `${name}: the README shows ${defaults[i]}, the schema has none`,
        )
      } else {
        assert.equal(defaults[i], String(fromSchema), `${name}: README default`)
      }
    })
  }
})
