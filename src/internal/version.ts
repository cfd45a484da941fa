/**
 * The package's own name and version, sent as `context.library` and in the `User-Agent` header.
 * `test/version.test.ts` fails when this drifts from `package.json`.
 */
export const libraryName = "cdp-analytics-effect"
export const libraryVersion = "0.1.0"
