/**
 * The error a CLI throws for a bad command line: the problem, then the
 * command's usage, which the CLI prints before exiting with 2.
 */
export function usageErrorFor(usage: string) {
  return class UsageError extends Error {
    constructor(problem: string) {
      super(`${problem}\n${usage}`)
    }
  }
}
