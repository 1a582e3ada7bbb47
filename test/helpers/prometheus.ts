// A strict parser of the Prometheus text exposition format 0.0.4, for tests:
// it throws on anything a Prometheus server would refuse, and on a few things
// it would accept but that point at a bug (series repeated, families split,
// histogram buckets that are not cumulative).

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: MetricType
  help?: string
  samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n'))
    throw new Error('the exposition does not end with a newline')
  const families = new Map<string, Family>()
  const seenSeries = new Set<string>()
  const closed = new Set<string>()
  const typed = new Set<string>()
  let current: Family | undefined
  const lines = text.split('\n').slice(0, -1)
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`)
    }
    if (line.trim() === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (!m) return // any other comment
      const [, kind, name, rest = ''] = m
      if (!NAME.test(name!)) fail('bad metric name')
      const family = families.get(name!) ?? {
        name: name!,
        type: 'untyped' as MetricType,
        samples: [],
      }
      if (family.samples.length > 0) fail(`${kind} after the samples of ${name}`)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail('unknown type')
        if (typed.has(name!)) fail('a second TYPE')
        typed.add(name!)
        family.type = rest as MetricType
      } else {
        if (family.help !== undefined) fail('a second HELP')
        family.help = unescapeLabel(rest, false, fail)
      }
      families.set(name!, family)
      return
    }
    const sample = parseSample(line, fail)
    const family = familyOf(families, sample.name) ?? fail('a sample of an undeclared family')
    if (family !== current) {
      if (closed.has(family.name)) fail(`the samples of ${family.name} are not together`)
      if (current) closed.add(current.name)
      current = family
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (seenSeries.has(key)) fail('a repeated series')
    seenSeries.add(key)
    family.samples.push(sample)
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** The value of the one series with exactly these labels, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = familyOf(families, name)
  const want = JSON.stringify(Object.entries(labels).sort())
  return family?.samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want,
  )?.value
}

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const exact = families.get(sampleName)
  if (exact && exact.type !== 'histogram') return exact
  for (const family of families.values()) {
    if ((SUFFIXES[family.type] ?? []).some((s) => sampleName === family.name + s)) return family
  }
  return undefined
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const nameEnd = line.search(/[{ ]/)
  if (nameEnd <= 0) fail('no metric name')
  const name = line.slice(0, nameEnd)
  if (!NAME.test(name)) fail('bad metric name')
  const labels: Record<string, string> = {}
  let pos = nameEnd
  if (line[pos] === '{') {
    pos++
    while (line[pos] !== '}') {
      const eq = line.indexOf('=', pos)
      if (eq < 0) fail('a label without a value')
      const label = line.slice(pos, eq)
      if (!LABEL_NAME.test(label)) fail(`bad label name ${label}`)
      if (label in labels) fail(`label ${label} twice`)
      if (line[eq + 1] !== '"') fail('an unquoted label value')
      let end = eq + 2
      while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1
      if (end >= line.length) fail('an unterminated label value')
      labels[label] = unescapeLabel(line.slice(eq + 2, end), true, fail)
      pos = end + 1
      if (line[pos] === ',') pos++
      else if (line[pos] !== '}') fail('labels not separated by commas')
    }
    pos++
  }
  const rest = line.slice(pos)
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest)
  if (!m) fail('no value, or something after the timestamp')
  return { name, labels, value: parseValue(m![1]!, fail) }
}

// Prometheus reads values with Go's strconv.ParseFloat, which takes Inf and NaN
// in any case; prom-client writes NaN as "Nan" (an event loop delay not yet sampled).
function parseValue(text: string, fail: (why: string) => never): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity
  if (/^-inf(inity)?$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail(`bad value ${text}`)
  return Number(text)
}

function unescapeLabel(text: string, quotes: boolean, fail: (why: string) => never): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\'
    if (c === 'n') return '\n'
    if (c === '"' && quotes) return '"'
    return fail(`bad escape \\${c}`)
  })
}

function checkHistogram(family: Family): void {
  const groups = new Map<
    string,
    { buckets: Array<[number, number]>; count?: number; sum?: number }
  >()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const g = groups.get(key) ?? { buckets: [] }
    groups.set(key, g)
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${s.name} without le`)
      g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value])
    } else if (le !== undefined) throw new Error(`${s.name} with le`)
    else if (s.name.endsWith('_count')) g.count = s.value
    else g.sum = s.value
  }
  for (const [key, g] of groups) {
    const where = `${family.name}${key}`
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: no _count or _sum`)
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0]))
        throw new Error(`${where}: buckets out of order`)
      if (g.buckets[i]![1] < g.buckets[i - 1]![1])
        throw new Error(`${where}: buckets not cumulative`)
    }
    const last = g.buckets.at(-1)
    if (!last || last[0] !== Infinity || last[1] !== g.count)
      throw new Error(`${where}: the +Inf bucket is not the count`)
  }
}
