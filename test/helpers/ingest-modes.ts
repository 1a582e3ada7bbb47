import { skipUnless } from './services.ts'

// The ingestion modes every HTTP contract test runs in: written before
// answering (201), embedded or on PostgreSQL, or queued and written by the
// worker (202).
export const INGEST_MODES = [
  {
    name: 'embedded (PGlite, no servers)',
    server: false,
    queue: false,
    status: 201,
    skip: false as const,
  },
  {
    name: 'direct (PostgreSQL, USE_QUEUE=false)',
    server: true,
    queue: false,
    status: 201,
    skip: await skipUnless('postgres'),
  },
  {
    name: 'queue (PostgreSQL, Redis Streams + worker)',
    server: true,
    queue: true,
    status: 202,
    skip: await skipUnless('postgres', 'redis'),
  },
]
