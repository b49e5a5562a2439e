/**
 * An MCP server as an OAuth protected resource (MCP authorization 2026-07-28 and 2025-11-25; RFC 9728; RFC 6750 §3; RFC 9068 §4):
 * its metadata document and where it is served, the 401 and 403 challenges, and the decision for each request to
 * the MCP endpoint. Transport-neutral: `Handler` (fetch and Node) and `McpAuth` (Effect) put it on the wire.
 */
import { Clock, Data, Duration, Effect } from "effect"
import { AccessToken, Dpop, ErrorResponse, StepUp } from "@tessera/protocol"
import * as KeySet from "./KeySet.js"

export interface Options {
  /**
   * The MCP endpoint's URL as clients know it (e.g. `https://mcp.example.com/mcp`): the resource indicator tokens
   * must be for, and the `resource` of the metadata, byte for byte (RFC 9728 §3.3).
   */
  readonly resource: string
  /** The authorization server's issuer identifier: the Tessera realm issuer (`https://tessera.example/realms/R`). */
  readonly issuer: string
  /**
   * The scopes for ordinary use: `scopes_supported` in the metadata and `scope` in the 401 challenge. Step-up scopes
   * stay out of it: clients ask for them when a 403 names them (MCP "Scope Selection Strategy").
   */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Scopes every request to the MCP endpoint needs (403 `insufficient_scope` otherwise). */
  readonly requiredScopes?: ReadonlyArray<string> | undefined
  /** Scopes a `tools/call` of a tool needs, by tool name (403 `insufficient_scope` otherwise). */
  readonly toolScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * The most seconds since the person authenticated (the token's `auth_time`) that a `tools/call` of a tool accepts,
   * by tool name (RFC 9470 §3), e.g. `{ transfer: 300 }`: a token whose `auth_time` is older, or absent (a client's own
   * token, or an authentication the issuer did not vouch for), gets 401 with `WWW-Authenticate: Bearer
   * error="insufficient_user_authentication", error_description="A different authentication level is required",
   * max_age="<seconds>", resource_metadata="<metadata URL>"` (`StepUp.errorResponse` of `@tessera/protocol`),
   * and the client asks the authorization server for a new login with that `max_age` (OIDC Core §3.1.2.1). Checked
   * after the scopes: a token missing a step-up scope gets the 403 first (one new login answers both). A request
   * calling several such tools needs the smallest age. Non-negative integers.
   */
  readonly toolMaxAuthAge?: Readonly<Record<string, number>> | undefined
  /** RFC 9728 §2 `resource_name`: a human-readable name. */
  readonly resourceName?: string | undefined
  /** The issuer's JWK Set URL; absent, read from its RFC 8414 metadata. */
  readonly jwksUri?: string | undefined
  /** The `fetch` used to get the issuer's keys (default: the global one). */
  readonly fetch?: typeof globalThis.fetch | undefined
  /** How long the key set is used before it is fetched again (default 10 minutes). */
  readonly jwksMaxAge?: Duration.DurationInput | undefined
  /** The least time between two key fetches caused by an unknown `kid` (default 30 seconds). */
  readonly jwksCooldown?: Duration.DurationInput | undefined
}

/** The validated token: its claims, never the token itself, so it cannot be forwarded upstream (MCP "Token Passthrough"). */
export interface Authorized {
  readonly claims: AccessToken.Claims
}

/** A configured protected resource. */
export interface ProtectedResource {
  readonly options: Options
  /** The MCP endpoint's path on this server (the resource URL's path). */
  readonly endpointPath: string
  /** The RFC 9728 §3.1 well-known paths: path-inserted first, then the root form. */
  readonly metadataPaths: ReadonlyArray<string>
  /** The absolute URL of the metadata, as the 401 names it (RFC 9728 §5.1). */
  readonly metadataUrl: string
  readonly metadata: Record<string, unknown>
  readonly keys: KeySet.KeySet
  /** RFC 9449 §11.1: remembers a DPoP proof's `jti` until it expires; false when it was seen before. */
  readonly seenProofs: (proof: Dpop.Proof) => Effect.Effect<boolean>
}

/** A bad configuration: a programming error of the server author, reported at start. */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{ readonly message: string }> {}

const wellKnown = "/.well-known/oauth-protected-resource"

// RFC 6749 §3.3: scope-token = 1*NQCHAR
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/

const check = (options: Options): string | undefined => {
  let url: URL
  try {
    url = new URL(options.resource)
  } catch {
    return "resource must be an absolute URL"
  }
  // RFC 9728 §1.2: the resource identifier is an https URL (http for loopback development) without query or fragment
  if (url.protocol !== "https:" && url.protocol !== "http:") return "resource must be an https (or http) URL"
  if (url.search !== "" || url.hash !== "" || options.resource.includes("#") || options.resource.includes("?")) {
    return "resource must have no query or fragment"
  }
  try {
    new URL(options.issuer)
  } catch {
    return "issuer must be an absolute URL"
  }
  const scopes = [
    ...(options.scopes ?? []),
    ...(options.requiredScopes ?? []),
    ...Object.values(options.toolScopes ?? {}).flat()
  ]
  if (!scopes.every((s) => scopeToken.test(s))) return "scopes must be RFC 6749 scope tokens"
  // RFC 9470 §3: max_age is in seconds, as OIDC Core's max_age (a non-negative integer)
  if (!Object.values(options.toolMaxAuthAge ?? {}).every((age) => Number.isSafeInteger(age) && age >= 0)) {
    return "toolMaxAuthAge values must be non-negative integers (seconds)"
  }
  return undefined
}

/** RFC 9728 §3.1: the well-known suffix goes between the host and the path; a path of just "/" is no path. */
export const metadataPathsOf = (resource: string): ReadonlyArray<string> => {
  const path = new URL(resource).pathname
  return path === "/" || path === "" ? [wellKnown] : [`${wellKnown}${path}`, wellKnown]
}

/**
 * MCP 2026-07-28 "Refresh Tokens" (SEP-2207): `offline_access` is between the client and the authorization server, not
 * a resource requirement, so it is never in `scopes_supported` nor in a challenge's `scope`, even when configured.
 */
export const resourceScopes = (scopes: ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  (scopes ?? []).filter((s) => s !== "offline_access")

/** RFC 9728 §2: the metadata document, without zero-valued members (§3.2). */
export const metadataOf = (options: Options) => {
  const scopes = resourceScopes(options.scopes)
  return {
    resource: options.resource,
    // MCP "Authorization Server Location": exactly one, the realm issuer (clients use the first one only)
    authorization_servers: [options.issuer],
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    // MCP "Token Requirements": the Authorization header only, never the query string or the body
    bearer_methods_supported: ["header"],
    // RFC 9728 §2: DPoP-bound tokens are accepted with a proof by one of these
    dpop_signing_alg_values_supported: Dpop.algorithms,
    ...(options.resourceName !== undefined && options.resourceName !== "" ? { resource_name: options.resourceName } : {})
  }
}

/** Most proofs remembered at once; past it the oldest are forgotten first (they are about to expire anyway). */
const maxRememberedProofs = 100_000

/** RFC 9449 §11.1: the `jti`s of accepted proofs, each until its proof could no longer be accepted. */
const replayCache = () => {
  const seen = new Map<string, number>()
  return (proof: Dpop.Proof): Effect.Effect<boolean> => Effect.map(Clock.currentTimeMillis, (ms) => {
    const nowSeconds = ms / 1000
    const key = `${proof.htu} ${proof.jti}`
    const until = seen.get(key)
    if (until !== undefined && until >= nowSeconds) return false
    if (seen.size >= maxRememberedProofs) {
      for (const [k, expiresAt] of seen) if (expiresAt < nowSeconds || seen.size >= maxRememberedProofs) seen.delete(k)
    }
    seen.set(key, proof.expiresAt)
    return true
  })
}

/** Validates the options and prepares the key cache; nothing is fetched yet. */
export const make = (options: Options): Effect.Effect<ProtectedResource, InvalidOptions> =>
  Effect.gen(function*() {
    const problem = check(options)
    if (problem !== undefined) return yield* new InvalidOptions({ message: `@tessera/mcp: ${problem}` })
    const url = new URL(options.resource)
    const paths = metadataPathsOf(options.resource)
    const keys = yield* KeySet.make({
      issuer: options.issuer,
      jwksUri: options.jwksUri,
      fetch: options.fetch ?? globalThis.fetch,
      maxAge: Duration.decode(options.jwksMaxAge ?? "10 minutes"),
      cooldown: Duration.decode(options.jwksCooldown ?? "30 seconds"),
      timeout: Duration.seconds(5)
    })
    return {
      options,
      endpointPath: url.pathname,
      metadataPaths: paths,
      metadataUrl: `${url.origin}${paths[0]}`,
      metadata: metadataOf(options),
      keys,
      seenProofs: replayCache()
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Challenges
// ---------------------------------------------------------------------------------------------------------------

/** RFC 9110 §11.2: an auth-param with a quoted-string value. */
const param = (name: string, value: string) => `${name}="${value.replace(/["\\]/g, "\\$&")}"`

/**
 * RFC 6750 §3 and RFC 9728 §5.1: `Bearer resource_metadata="<absolute URL>", scope="<ordinary scopes>"`; with
 * `error="invalid_token"` first when a token was presented (RFC 6750 §3.1: none when the request had no token).
 */
export const unauthorized = (resource: ProtectedResource, presented: boolean, description?: string) => {
  const scopes = resourceScopes(resource.options.scopes)
  const params = [
    ...(presented ? [param("error", "invalid_token")] : []),
    ...(presented && description !== undefined ? [param("error_description", description)] : []),
    param("resource_metadata", resource.metadataUrl),
    ...(scopes.length > 0 ? [param("scope", scopes.join(" "))] : [])
  ]
  return new ErrorResponse.ErrorResponse({
    error: "invalid_token",
    error_description: description ?? "an access token is required",
    status: 401,
    wwwAuthenticate: `Bearer ${params.join(", ")}`
  })
}

/**
 * MCP "Runtime Insufficient Scope Errors" and RFC 6750 §3.1: 403 `insufficient_scope` whose `scope` holds the scopes
 * the token already has and then those missing, so a client asking for exactly that keeps what it had (CONTRACT §6).
 */
export const insufficientScope = (resource: ProtectedResource, granted: ReadonlyArray<string>, missing: ReadonlyArray<string>) =>
  new ErrorResponse.ErrorResponse({
    error: "insufficient_scope",
    error_description: `this request needs the scope ${missing.join(" ")}`,
    status: 403,
    wwwAuthenticate: `Bearer ${
      [
        param("error", "insufficient_scope"),
        param("scope", resourceScopes([...granted, ...missing.filter((s) => !granted.includes(s))]).join(" ")),
        param("resource_metadata", resource.metadataUrl)
      ].join(", ")
    }`
  })

/** The issuer's keys could not be fetched: the token cannot be judged either way, so the client should retry. */
export const keysUnavailable = ErrorResponse.make("temporarily_unavailable", "the authorization server's keys are unavailable", 503)

// ---------------------------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------------------------

/** The tools a JSON-RPC message (or batch) calls: `tools/call` requests' `params.name`. */
export const calledTools = (body: unknown): ReadonlyArray<string> => {
  const messages = Array.isArray(body) ? body : [body]
  const names: Array<string> = []
  for (const message of messages) {
    if (typeof message !== "object" || message === null) continue
    const m = message as { method?: unknown; params?: { name?: unknown } }
    if (m.method === "tools/call" && typeof m.params?.name === "string") names.push(m.params.name)
  }
  return names
}

/** The scopes a request needs: the always-required ones and those of every tool it calls. */
export const neededScopes = (resource: ProtectedResource, body: unknown): ReadonlyArray<string> => {
  const tools = resource.options.toolScopes ?? {}
  const needed = [...(resource.options.requiredScopes ?? [])]
  for (const name of calledTools(body)) {
    for (const scope of Object.hasOwn(tools, name) ? tools[name]! : []) if (!needed.includes(scope)) needed.push(scope)
  }
  return needed
}

/** RFC 9470 §3: the smallest `toolMaxAuthAge` of the tools a request calls, or undefined when none has one. */
export const neededAuthAge = (resource: ProtectedResource, body: unknown): number | undefined => {
  const ages = resource.options.toolMaxAuthAge ?? {}
  const needed = calledTools(body).filter((name) => Object.hasOwn(ages, name)).map((name) => ages[name]!)
  return needed.length > 0 ? Math.min(...needed) : undefined
}

/** What authentication reads of a request to the MCP endpoint. */
export interface Credentials {
  /** The `Authorization` header. */
  readonly authorization: string | undefined
  /** The `DPoP` header(s) (RFC 9449 §4.1). */
  readonly dpop: string | ReadonlyArray<string> | undefined
  /** The HTTP method, which a DPoP proof's `htm` must match. */
  readonly method: string
}

/**
 * Authenticates a request to the MCP endpoint by its headers alone (MCP "Token Handling"; RFC 9068 §4; RFC 6750
 * §3.1; RFC 9449 §7): no token → 401 without an error code; a token that does not verify for this resource and
 * issuer → 401 `invalid_token`; a DPoP-bound token without a valid proof of its key, or presented as a bearer token
 * → 401 (RFC 9449 §7.1, §7.2); the issuer's keys unreachable → 503. Otherwise the verified claims.
 */
export const authenticate = (resource: ProtectedResource, request: Credentials): Effect.Effect<Authorized, ErrorResponse.ErrorResponse> =>
  Effect.gen(function*() {
    const presented = request.authorization === undefined ? undefined : Dpop.credentials(request.authorization.trim())
    if (presented === undefined) {
      // another scheme is no token (RFC 6750 §3.1: no error code); a garbled bearer one is an invalid token
      const garbled = /^(bearer|dpop)(\s|$)/i.test(request.authorization ?? "")
      return yield* unauthorized(resource, garbled, garbled ? "the Authorization header is malformed" : undefined)
    }
    // not even a JWS: refused before anything is fetched
    const header = AccessToken.header(presented.token)
    if (header === undefined) return yield* unauthorized(resource, true, "the access token is not valid for this resource")
    const jwks = yield* resource.keys.forKid(header.kid).pipe(
      Effect.tapError((e) => Effect.logWarning("issuer keys unavailable", e.reason)),
      Effect.mapError(() => keysUnavailable)
    )
    const claims = yield* AccessToken.verifyAccessToken(presented.token, {
      issuer: resource.options.issuer,
      audience: resource.options.resource,
      jwks
    }).pipe(
      Effect.tapError((e) => Effect.logDebug("access token refused", e.reason)),
      Effect.mapError(() => unauthorized(resource, true, "the access token is not valid for this resource"))
    )
    // RFC 9449 §7.1, §7.2: a bound token needs the DPoP scheme and a proof of its key (htu: the URL clients use)
    yield* Dpop.verifyPresentation({
      credentials: presented,
      claims,
      proof: request.dpop,
      method: request.method,
      uri: resource.options.resource,
      now: Math.floor((yield* Clock.currentTimeMillis) / 1000),
      unique: resource.seenProofs
    }).pipe(Effect.mapError((rejection) => Dpop.resourceError(rejection)))
    return { claims }
  })

/** 403 `insufficient_scope` when the token lacks a scope the request (its JSON-RPC `body`) needs. */
export const checkScopes = (resource: ProtectedResource, authorized: Authorized, body: unknown): Effect.Effect<void, ErrorResponse.ErrorResponse> => {
  const granted = authorized.claims.scope
  const missing = neededScopes(resource, body).filter((s) => !granted.includes(s))
  return missing.length > 0 ? Effect.fail(insufficientScope(resource, granted, missing)) : Effect.void
}

/**
 * RFC 9470 §3: 401 `insufficient_user_authentication` when a tool the request calls has a `toolMaxAuthAge` and the
 * token's `auth_time` is older than it (at the Clock's time) or absent.
 */
export const checkAuthAge = (resource: ProtectedResource, authorized: Authorized, body: unknown): Effect.Effect<void, ErrorResponse.ErrorResponse> =>
  Effect.gen(function*() {
    const maxAge = neededAuthAge(resource, body)
    if (maxAge === undefined) return
    const result = StepUp.check(authorized.claims, { maxAge }, Math.floor((yield* Clock.currentTimeMillis) / 1000))
    if (result._tag === "Insufficient") return yield* StepUp.errorResponse(result, { resourceMetadata: resource.metadataUrl })
  })

/**
 * What a request (its JSON-RPC `body`) needs of an authenticated token, in order: the scopes (403,
 * `checkScopes`), then a recent enough authentication (401, `checkAuthAge`).
 */
export const checkRequirements = (resource: ProtectedResource, authorized: Authorized, body: unknown) =>
  Effect.zipRight(checkScopes(resource, authorized, body), checkAuthAge(resource, authorized, body))

// ---------------------------------------------------------------------------------------------------------------
// CORS (browser-based MCP clients)
// ---------------------------------------------------------------------------------------------------------------

/** Headers on every answer of the MCP endpoint and the metadata: readable cross-origin, challenge included. */
export const corsHeaders: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  // the Fetch standard hides other response headers from scripts: the SDK must read the challenge and the session
  "access-control-expose-headers": "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version"
}

/** The answer to a preflight: no authentication needed (a preflight never carries credentials). */
export const preflightHeaders: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
  // MCP 2026-07-28 Streamable HTTP (SEP-2243): every POST carries Mcp-Method and Mcp-Name; 2025 clients the rest
  "access-control-allow-headers": "Authorization, Content-Type, Accept, DPoP, Mcp-Method, Mcp-Name, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID",
  "access-control-max-age": "86400"
}

/** The claims as the MCP SDK's `AuthInfo`, without the token: `token` is empty, the claims are in `extra.claims`. */
export const authInfo = (resource: ProtectedResource, authorized: Authorized) => ({
  token: "",
  clientId: authorized.claims.client_id,
  scopes: [...authorized.claims.scope],
  expiresAt: authorized.claims.exp,
  resource: new URL(resource.options.resource),
  extra: { claims: authorized.claims }
})

/**
 * The claims of a request, in a tool handler of the MCP SDK: from `extra.authInfo` (SDK 1), or `ctx.http.authInfo`
 * (SDK 2: pass `ctx.http`).
 */
export const claimsOf = (extra: { readonly authInfo?: { readonly extra?: Record<string, unknown> } | undefined } | undefined) =>
  extra?.authInfo?.extra?.["claims"] as AccessToken.Claims | undefined
