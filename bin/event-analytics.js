#!/usr/bin/env node
// `npx event-analytics <command> [args]`: runs src/cli/<command>.ts in this
// process through tsx (a runtime dependency), as `npm run <command>` does.
import { existsSync, readdirSync } from 'node:fs'
import { register } from 'tsx/esm/api'

const cliDir = new URL('../src/cli/', import.meta.url)
const commands = readdirSync(cliDir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort()
const command = process.argv[2]
if (!command || !/^[a-z][a-z-]*$/.test(command) || !existsSync(new URL(`${command}.ts`, cliDir))) {
  process.stderr.write(
    `usage: event-analytics <command> [args]\ncommands: ${commands.join(', ')}\n`,
  )
  process.exit(2)
}
// The command reads its own arguments from process.argv.slice(2).
process.argv.splice(2, 1)
register()
await import(new URL(`${command}.ts`, cliDir).href)
