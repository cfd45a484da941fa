import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as AnalyticsConfig from "../src/AnalyticsConfig.ts"

const resolve = (options: Record<string, unknown>) =>
  AnalyticsConfig.resolve({ writeKey: "wk", ...options } as unknown as AnalyticsConfig.Options)

const failure = (options: Record<string, unknown>): string => {
  const result = resolve(options)
  if (Result.isSuccess(result)) throw new Error(`expected ${JSON.stringify(options)} to be refused`)
  assert.strictEqual(result.failure.reason._tag, "InvalidOption")
  return result.failure.message
}

describe("AnalyticsConfig", () => {
  it("applies the documented defaults", () => {
    const resolved = Result.getOrThrow(resolve({}))
    assert.deepStrictEqual({ ...resolved, writeKey: Redacted.value(resolved.writeKey) }, {
      writeKey: "wk",
      url: "https://cdp.customer.io/v1/batch",
      maxEventsInBatch: 20,
      flushIntervalMillis: 10_000,
      maxRetries: 10,
      httpRequestTimeoutMillis: 10_000,
      maxQueueSize: 100_000,
      overflow: "fail",
      maxConcurrentRequests: 4,
      disable: false,
      compression: "none",
      strictMode: false,
      closeTimeoutMillis: 75_000,
      logLevel: undefined,
      debug: false,
      strictParams: false,
      unknownOptions: []
    })
  })

  it("builds the URL from region, host (keeping a path prefix) and path", () => {
    const url = (options: Record<string, unknown>) => Result.getOrThrow(resolve(options)).url
    assert.strictEqual(url({ region: "eu" }), "https://cdp-eu.customer.io/v1/batch")
    assert.strictEqual(url({ host: "https://cdp-eu.customer.io" }), "https://cdp-eu.customer.io/v1/batch")
    assert.strictEqual(
      url({ host: "http://127.0.0.1:8080/prefix/", path: "/v2/b" }),
      "http://127.0.0.1:8080/prefix/v2/b"
    )
    assert.strictEqual(url({ host: "https://h.test", region: "eu" }), "https://h.test/v1/batch", "host wins")
  })

  it("takes durations as milliseconds or Duration strings", () => {
    const resolved = Result.getOrThrow(resolve({ flushInterval: "2 seconds", httpRequestTimeout: 1500 }))
    assert.strictEqual(resolved.flushIntervalMillis, 2_000)
    assert.strictEqual(resolved.httpRequestTimeoutMillis, 1_500)
  })

  it("refuses a missing or empty write key without echoing anything secret", () => {
    assert.match(failure({ writeKey: undefined }), /"writeKey" is missing/)
    assert.match(failure({ writeKey: "" }), /"writeKey" is missing/)
    assert.match(failure({ writeKey: 42 }), /"writeKey" must be a string/)
    const message = failure({ writeKey: " secret-with-space " })
    assert.notInclude(message, "secret-with-space")
  })

  it("names the option and the rule for every invalid value", () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ region: "mars" }, /"region" must be one of "us", "eu", got "mars"/],
      [{ host: "not a url" }, /"host" must be an absolute http\(s\) URL/],
      [{ host: "ftp://x.test" }, /"host" must use http or https/],
      [{ host: "https://user:pw@x.test" }, /"host" must not carry credentials/],
      [{ path: "v1/batch" }, /"path" must be a string starting with "\/"/],
      [{ maxEventsInBatch: 0 }, /"maxEventsInBatch" must be an integer of at least 1, got 0/],
      [{ maxEventsInBatch: 2.5 }, /"maxEventsInBatch" must be an integer/],
      [{ maxRetries: -1 }, /"maxRetries" must be an integer of at least 0, got -1/],
      [{ maxQueueSize: "10" }, /"maxQueueSize" must be an integer of at least 1, got "10"/],
      [{ maxConcurrentRequests: 0 }, /"maxConcurrentRequests" must be an integer of at least 1/],
      [{ flushInterval: -5 }, /"flushInterval" must be a duration of at least 0 ms/],
      [{ flushInterval: Number.NaN }, /"flushInterval" must be a duration/],
      [{ httpRequestTimeout: 0 }, /"httpRequestTimeout" must be a duration of at least 1 ms/],
      [{ closeTimeout: "soon" }, /"closeTimeout" must be a duration/],
      [{ disable: "yes" }, /"disable" must be a boolean/],
      [{ compression: "br" }, /"compression" must be one of "gzip", "none"/],
      [{ overflow: "drop" }, /"overflow" must be one of "fail", "suspend"/],
      [{ strictMode: 1 }, /"strictMode" must be a boolean/],
      [
        { logLevel: "loud" },
        /"logLevel" must be one of "All", "Fatal", "Error", "Warn", "Info", "Debug", "Trace", "None"/
      ],
      [{ debug: "on" }, /"debug" must be a boolean/],
      [
        { host: "https://cdp.customer.io/v1/batch" },
        /"host" ends in "\/v1\/batch", which the client adds itself: use "https:\/\/cdp.customer.io"/
      ],
      [{ host: "https://proxy.test/cio/v1/batch/" }, /use "https:\/\/proxy.test\/cio"/]
    ]
    for (const [options, expected] of cases) assert.match(failure(options), expected)
  })

  it.effect("config reads the CUSTOMERIO_* environment variables, with the key redacted", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromEnv({
        env: {
          CUSTOMERIO_WRITE_KEY: "wk_env",
          CUSTOMERIO_REGION: "eu",
          CUSTOMERIO_MAX_EVENTS_IN_BATCH: "50",
          CUSTOMERIO_FLUSH_INTERVAL: "250",
          CUSTOMERIO_CLOSE_TIMEOUT: "5 seconds",
          CUSTOMERIO_COMPRESSION: "gzip",
          CUSTOMERIO_DISABLE: "false"
        }
      })
      const options = yield* AnalyticsConfig.config.parse(provider)
      assert.strictEqual(String(options.writeKey), "<redacted>")
      const resolved = Result.getOrThrow(AnalyticsConfig.resolve(options))
      assert.strictEqual(Redacted.value(resolved.writeKey), "wk_env")
      assert.strictEqual(resolved.url, "https://cdp-eu.customer.io/v1/batch")
      assert.strictEqual(resolved.maxEventsInBatch, 50)
      assert.strictEqual(resolved.flushIntervalMillis, 250)
      assert.strictEqual(resolved.closeTimeoutMillis, 5_000)
      assert.strictEqual(resolved.compression, "gzip")
      assert.strictEqual(resolved.disable, false)
      assert.strictEqual(resolved.maxRetries, 10, "unset variables keep their defaults")
    }))

  it("ignores letter case in choices: region EU, compression GZIP, logLevel warn", () => {
    const resolved = Result.getOrThrow(resolve({ region: "EU", compression: "GZIP", logLevel: "warn" }))
    assert.strictEqual(resolved.url, "https://cdp-eu.customer.io/v1/batch")
    assert.strictEqual(resolved.compression, "gzip")
    assert.strictEqual(resolved.logLevel, "Warn")
  })

  it("lists unknown options with what was probably meant, and debug lowers the log level", () => {
    const resolved = Result.getOrThrow(resolve({ flushAt: 1, flushInterva: 5, fooBarBaz: true, debug: true }))
    assert.deepStrictEqual(resolved.unknownOptions, [
      `option "flushAt" is not an option of this client: it is ignored (did you mean "maxEventsInBatch"?)`,
      `option "flushInterva" is not an option of this client: it is ignored (did you mean "flushInterval"?)`,
      `option "fooBarBaz" is not an option of this client: it is ignored`
    ])
    assert.strictEqual(resolved.logLevel, "Debug")
  })

  const fromEnv = (env: Record<string, string>) =>
    Effect.flatMap(
      AnalyticsConfig.config.parse(ConfigProvider.fromEnv({ env })),
      (options) => Effect.fromResult(AnalyticsConfig.resolve(options))
    )

  it.effect("config errors name the environment variable, in the style of option errors", () =>
    Effect.gen(function*() {
      const message = (env: Record<string, string>) => Effect.map(Effect.flip(fromEnv(env)), (e) => e.message)
      assert.strictEqual(
        yield* message({}),
        "CUSTOMERIO_WRITE_KEY is missing: it is the API key of your Customer.io source"
      )
      assert.strictEqual(
        yield* message({ CUSTOMERIO_WRITE_KEY: "" }),
        "CUSTOMERIO_WRITE_KEY is missing: it is the API key of your Customer.io source"
      )
      assert.strictEqual(
        yield* message({ CUSTOMERIO_WRITE_KEY: "wk", CUSTOMERIO_REGION: "mars" }),
        `CUSTOMERIO_REGION must be one of "us", "eu", got "mars"`
      )
      assert.strictEqual(
        yield* message({ CUSTOMERIO_WRITE_KEY: "wk", CUSTOMERIO_MAX_RETRIES: "ten" }),
        `CUSTOMERIO_MAX_RETRIES must be an integer of at least 0, got "ten"`
      )
      assert.strictEqual(
        yield* message({ CUSTOMERIO_WRITE_KEY: "wk", CUSTOMERIO_DISABLE: "maybe" }),
        `CUSTOMERIO_DISABLE must be a boolean, got "maybe"`
      )
      const eu = yield* fromEnv({ CUSTOMERIO_WRITE_KEY: "wk", CUSTOMERIO_REGION: "EU", CUSTOMERIO_DEBUG: "1" })
      assert.strictEqual(eu.url, "https://cdp-eu.customer.io/v1/batch")
      assert.isTrue(eu.debug)
    }))
})
