/** Wire-level helpers: send a request to the app under test and read the whole response. */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { adminToken } from "./TestLive.js"

export interface WireResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly json: any
}

export interface Options {
  readonly headers?: Record<string, string>
  /** A JSON body (serialized) or a raw string body sent as-is. */
  readonly json?: unknown
  readonly body?: string
  readonly contentType?: string
}

export const request = (method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "OPTIONS" | "HEAD", path: string, options: Options = {}) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    let req = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.setHeaders(options.headers ?? {}))
    if (options.json !== undefined) {
      req = HttpClientRequest.bodyText(req, JSON.stringify(options.json), options.contentType ?? "application/json")
    } else if (options.body !== undefined) {
      req = HttpClientRequest.bodyText(req, options.body, options.contentType ?? "application/json")
    }
    const res = yield* client.execute(req)
    const text = yield* res.text
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    const response: WireResponse = { status: res.status, headers: res.headers, text, json }
    return response
  }).pipe(Effect.scoped, Effect.orDie)

export const get = (path: string, options?: Options) => request("GET", path, options)

const owner = { authorization: `Bearer ${adminToken}` }

/** Admin API calls with the owner's token. */
export const admin = {
  get: (path: string) => request("GET", path, { headers: owner }),
  post: (path: string, json?: unknown) => request("POST", path, { headers: owner, ...(json !== undefined ? { json } : {}) }),
  patch: (path: string, json: unknown) => request("PATCH", path, { headers: owner, json })
}

let counter = 0
/** A realm name no other test in this process uses. */
export const uniqueName = (prefix = "r") => `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

/** Creates a realm through the admin API and returns its name and issuer. */
export const createRealm = (name = uniqueName()) =>
  Effect.gen(function*() {
    const res = yield* admin.post("/admin/realms", { name })
    if (res.status !== 201) return yield* Effect.dieMessage(`realm creation failed: ${res.status} ${res.text}`)
    return res.json as { name: string; issuer: string }
  })

/** RFC 6749 §5.1: the headers of every token endpoint answer, success or error: never cached. */
export const noStore = { "cache-control": "no-store", pragma: "no-cache" }

/** CORS open on what browser-based clients (MCP clients among them) read: metadata, JWKS, the token endpoint. */
export const corsOpen = { "access-control-allow-origin": "*" }

/**
 * Every header of a token endpoint answer but the transport's: JSON, never cached, CORS open with the DPoP headers
 * readable (RFC 9449 §7.1 and §8). No challenge: add `www-authenticate` where a 401 has one.
 */
export const tokenEndpointHeaders = {
  "content-type": "application/json",
  ...noStore,
  ...corsOpen,
  "access-control-expose-headers": "DPoP-Nonce, WWW-Authenticate"
}

/** Every header of a metadata document answer but the transport's: JSON, cached for five minutes, CORS open. */
export const metadataHeaders = { "content-type": "application/json", "cache-control": "public, max-age=300", ...corsOpen }

/** The headers Node adds to every answer on a kept-alive connection. */
export const keptAlive = {
  "content-length": expect.stringMatching(/^\d+$/),
  date: expect.any(String),
  connection: "keep-alive",
  "keep-alive": "timeout=5"
}

/**
 * A realm's trail (newest first) as the owner creates it (ADR 0035): `realm.created`, then its built-in admin resource
 * and `tessera-cli`.
 */
export const bornEvents = ["client.created", "resource.created", "realm.created"] as const
