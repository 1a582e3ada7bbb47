import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FieldError } from '../../src/errors.ts'
import { jsonPath, parseSegment, parseSegments } from '../../src/stats/segment.ts'

describe('parseSegment', () => {
  test('eq is the default, and the value is everything after the field', () => {
    assert.deepEqual(parseSegment('properties.country:UA'), {
      text: 'properties.country:UA',
      field: { kind: 'property', path: ['country'] },
      op: 'eq',
      values: ['UA'],
    })
    assert.deepEqual(parseSegment('properties.url:https://x.test/a:b').valueOf(), {
      text: 'properties.url:https://x.test/a:b',
      field: { kind: 'property', path: ['url'] },
      op: 'eq',
      values: ['https://x.test/a:b'],
    })
    assert.deepEqual((parseSegment('event_type:') as { values: string[] }).values, [''])
  })

  test('every operator; in splits on commas; exists takes no value', () => {
    for (const op of ['eq', 'ne', 'gt', 'gte', 'lt', 'lte']) {
      assert.deepEqual(parseSegment(`user_id:${op}:a,b`), {
        text: `user_id:${op}:a,b`,
        field: { kind: 'user_id' },
        op,
        values: ['a,b'],
      })
    }
    assert.deepEqual((parseSegment('properties.plan:in:pro,team') as { values: string[] }).values, [
      'pro',
      'team',
    ])
    assert.deepEqual(parseSegment('properties.device.os:exists'), {
      text: 'properties.device.os:exists',
      field: { kind: 'property', path: ['device', 'os'] },
      op: 'exists',
      values: [],
    })
    // a value that merely looks like an operator is a value
    assert.deepEqual((parseSegment('event_type:eq:exists') as { values: string[] }).values, [
      'exists',
    ])
    assert.deepEqual((parseSegment('event_type:gtx') as { op: string }).op, 'eq')
  })

  test('malformed filters say why', () => {
    assert.match(parseSegment('country') as string, /expected field:value/)
    assert.match(
      parseSegment('country:UA') as string,
      /the field must be event_type, user_id, properties.<path> or user.<trait>/,
    )
    assert.match(parseSegment('properties:UA') as string, /the field must be/)
    for (const path of [
      'properties.',
      'properties.a..b',
      'properties.a b',
      'properties.a"b',
      "properties.a'--",
      'properties.$.a',
      `properties.${'k'.repeat(65)}`,
    ]) {
      assert.match(parseSegment(`${path}:x`) as string, /property path/, path)
    }
    assert.match(
      parseSegment(`properties.${Array(9).fill('a').join('.')}:x`) as string,
      /at most 8 keys/,
    )
    assert.match(parseSegment('user_id:exists') as string, /exists applies to properties only/)
    assert.match(
      parseSegment(`event_type:in:${Array(101).fill('a').join(',')}`) as string,
      /at most 100 values/,
    )
    assert.match(
      parseSegment(`event_type:${'x'.repeat(1025)}`) as string,
      /at most 1024 characters/,
    )
  })
})

describe('parseSegments', () => {
  test('one or many, each bad one an error naming the parameter and quoting the filter', () => {
    const errors: FieldError[] = []
    assert.equal(parseSegments('segment', undefined, errors).length, 0)
    assert.equal(parseSegments('segment', 'event_type:a', errors).length, 1)
    assert.equal(parseSegments('segment', ['event_type:a', 'user_id:b'], errors).length, 2)
    assert.deepEqual(errors, [])
    parseSegments('cohort_segment', ['event_type:a', 'nope'], errors)
    assert.deepEqual(errors, [
      {
        field: 'cohort_segment',
        message:
          '"nope": expected field:value or field:op:value (op one of eq, ne, in, gt, gte, lt, lte, exists)',
      },
    ])
    parseSegments('segment', Array(11).fill('event_type:a'), errors)
    assert.deepEqual(errors[1], { field: 'segment', message: 'at most 10 filters' })
  })
})

test('jsonPath quotes every key', () => {
  assert.equal(jsonPath(['device', 'os']), '$."device"."os"')
})
