/**
 * The hostile requests, as fast-check arbitraries (so that a failing one shrinks, and a seed reproduces a run). Each
 * endpoint has a valid request built from the protocol's own schemas and names (`TokenRequest`, `Admin`,
 * `AuthorizationRequest`, `ClientMetadata`, `DeviceAuthorizationRequest`, `Dpop`), whose values are the fixture's real
 * ones (slots, filled in when sent); then one thing is broken: a value replaced by a hostile string (every Unicode
 * plane, NUL, lone surrogates, huge, empty, broken percent-encoding), a real value truncated or flipped (JWTs and DPoP
 * proofs cut short), a parameter dropped or duplicated, the method, the content type, the encoding (raw, broken
 * percent-encoding, invalid UTF-8 bytes), or the transfer (chunked). Plus requests that are noise from the start.
 */
import { Arbitrary, Schema } from "effect"
import fc from "fast-check"
import { Admin, AuthorizationRequest, ClientMetadata, TokenRequest } from "@tessera/protocol"
import type { Slot } from "./Fixture.js"

/** A value: literal text, or a fixture slot (optionally corrupted) resolved when the request is sent. */
export type Text = string | SlotRef
export interface SlotRef {
  readonly slot: Slot | "dpop"
  readonly corrupt?: Corruption
  /** Text around the value, e.g. `Bearer ` before an access token. */
  readonly prefix?: string
}
export type Corruption =
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "flip"; readonly at: number; readonly char: string }
  | { readonly kind: "append"; readonly text: string }
  | { readonly kind: "segments"; readonly keep: number }
  | { readonly kind: "replace"; readonly text: string }

export type Pairs = ReadonlyArray<readonly [Text, Text]>

/** How pairs become text: percent-encoded properly, raw (`&`, `=`, spaces and all as they are), or with broken escapes. */
export type Encoding = "proper" | "raw" | "broken"

export type Body =
  | { readonly kind: "form"; readonly pairs: Pairs; readonly encoding: Encoding }
  | { readonly kind: "json"; readonly value: unknown }
  | { readonly kind: "text"; readonly text: string }
  /** Raw bytes (invalid UTF-8 and all), given as numbers so that the request prints. */
  | { readonly kind: "bytes"; readonly bytes: ReadonlyArray<number> }
  /** `unit` repeated `count` times: a body far over the limit without storing it in the request. */
  | { readonly kind: "repeat"; readonly unit: string; readonly count: number }

export interface FuzzRequest {
  /** Which route the request aims at, e.g. `POST /realms/:realm/token` (its method as sent). */
  readonly endpoint: string
  readonly method: string
  /** The path: segments joined as they are (a slot is the realm name). */
  readonly path: ReadonlyArray<Text>
  readonly query?: { readonly pairs: Pairs; readonly encoding: Encoding }
  readonly headers: ReadonlyArray<readonly [string, Text]>
  readonly body?: Body
  /** Sent with Content-Length, or with Transfer-Encoding: chunked. */
  readonly chunked: boolean
}

// --- hostile values ---

const specials = [
  "", " ", "\u0000", "a\u0000b", "%00", "%", "%%", "%zz", "%C3%28", "%FF%FE", "%ED%A0%80", "%F0%9F", "\uD800", "\uDFFF", "a\uD800b",
  "\u202E", "\uFEFF", "\uFFFF", "\u{10FFFF}", "\u{1F984}", "\u{E0001}", "é", "\u0301", "\r\n", "\n", "\t", "\\", "\"", "'", "<script>",
  "../..", "/", "?", "#", "&", "=", "+", ";", ",", "null", "undefined", "true", "0", "-1", "1e309", "NaN", "[]", "{}",
  "${jndi:x}", "' OR '1'='1", "\u0000".repeat(64), "eyJ", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b.c", "..", "Basic", "Bearer",
  "urn:ietf:params:oauth:grant-type:token-exchange", "https://127.0.0.1:1/x", "http://127.0.0.1:9/callback#x", "javascript:alert(1)"
]

/** Long values: at the form's 4096-character limit, beyond it, and well over the 64 KiB body limit. */
const long = fc.tuple(
  fc.constantFrom("a", "%", "\u0000", "é", "\u{1D54F}", "%00", "=&"),
  fc.constantFrom(4095, 4096, 4097, 10_000, 70_000)
).map(([unit, count]) => unit.repeat(Math.ceil(count / unit.length)))

/** Every Unicode plane (code points 0-10FFFF), control characters, graphemes, numbers, and the specials above. */
export const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...specials) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double()).map(String) },
  { weight: 1, arbitrary: long }
)

/** Any JSON value where a string, number or array was expected: wrong types, deep nesting, hostile strings. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, [], {}, [null], { "__proto__": { x: 1 } }) },
  { weight: 1, arbitrary: fc.array(hostile, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map((depth) => JSON.parse("[".repeat(depth) + "]".repeat(depth))) }
)

const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  fc.nat({ max: 400 }).map((at) => ({ kind: "truncate", at }) as const),
  fc.tuple(fc.nat({ max: 400 }), fc.constantFrom("A", ".", "\u0000", "%", "é", "=", "-", "_", " ")).map(([at, char]) => ({ kind: "flip", at, char }) as const),
  hostile.map((text) => ({ kind: "append", text }) as const),
  fc.nat({ max: 3 }).map((keep) => ({ kind: "segments", keep }) as const),
  hostile.map((text) => ({ kind: "replace", text }) as const)
)

const slot = (name: Slot | "dpop", prefix?: string): SlotRef => (prefix !== undefined ? { slot: name, prefix } : { slot: name })

// --- one thing broken ---

type Mutation =
  | { readonly kind: "none" }
  | { readonly kind: "value"; readonly index: number; readonly value: string }
  | { readonly kind: "corrupt"; readonly index: number; readonly corrupt: Corruption }
  | { readonly kind: "drop"; readonly index: number }
  | { readonly kind: "duplicate"; readonly index: number; readonly value: Text }
  | { readonly kind: "add"; readonly name: string; readonly value: string }
  | { readonly kind: "name"; readonly index: number; readonly name: string }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "none" } as const) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("value" as const), index: fc.nat(), value: hostile }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("corrupt" as const), index: fc.nat(), corrupt: corruption }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), index: fc.nat(), value: fc.oneof(hostile, fc.constant("")) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("add" as const), name: fc.oneof(hostile, fc.constantFrom("client_id", "client_secret", "resource", "scope", "dpop_jkt")), value: hostile }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("name" as const), index: fc.nat(), name: hostile }) }
)

const corruptText = (text: Text, corrupt: Corruption): Text =>
  typeof text === "string" ? applyCorruption(text, corrupt) : { ...text, corrupt }

/** What a corruption does to a value (also used when a slot is resolved). */
export const applyCorruption = (value: string, c: Corruption): string => {
  switch (c.kind) {
    case "truncate":
      return value.slice(0, value.length === 0 ? 0 : c.at % value.length)
    case "flip": {
      if (value.length === 0) return c.char
      const at = c.at % value.length
      return value.slice(0, at) + c.char + value.slice(at + 1)
    }
    case "append":
      return value + c.text
    case "segments":
      return value.split(".").slice(0, c.keep).join(".")
    case "replace":
      return c.text
  }
}

/** Applies one mutation to a list of pairs (the index wraps around the list). */
export const mutate = (pairs: Pairs, m: Mutation): Pairs => {
  if (m.kind === "none" || m.kind === "add") return m.kind === "add" ? [...pairs, [m.name, m.value]] : pairs
  if (pairs.length === 0) return pairs
  const i = m.index % pairs.length
  const [name, value] = pairs[i]!
  const replaced = (pair: readonly [Text, Text]) => [...pairs.slice(0, i), pair, ...pairs.slice(i + 1)]
  switch (m.kind) {
    case "value":
      return replaced([name, m.value])
    case "corrupt":
      return replaced([name, corruptText(value, m.corrupt)])
    case "drop":
      return [...pairs.slice(0, i), ...pairs.slice(i + 1)]
    case "duplicate":
      return [...pairs, [name, m.value === "" ? value : m.value]]
    case "name":
      return replaced([m.name, value])
  }
}

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "get"] as const

const formType = "application/x-www-form-urlencoded"
/** Content types, right and wrong. */
const contentTypes = [
  formType, "application/json", "text/plain", "multipart/form-data; boundary=x", `${formType}; charset=utf-16`,
  `${formType}; charset=iso-8859-1`, "application/x-www-form-urlencoded, application/json", "application/jwt", "*/*", "",
  "application/json; charset=\u00ff", "APPLICATION/X-WWW-FORM-URLENCODED"
]

/** The request-wide breakage: method, content type, encoding, transfer, extra headers. */
interface Envelope {
  readonly method: string | undefined
  readonly contentType: string | undefined
  readonly encoding: Encoding
  readonly chunked: boolean
  readonly headers: ReadonlyArray<readonly [string, Text]>
  readonly bytes: ReadonlyArray<number> | undefined
}

const extraHeader: fc.Arbitrary<readonly [string, Text]> = fc.oneof(
  fc.tuple(fc.constant("authorization"), fc.oneof(
    hostile,
    fc.constantFrom(slot("basic_cc"), slot("basic_agent"), slot("owner"), slot("access_token", "Bearer "), slot("access_token", "DPoP "), slot("cc_token", "Bearer ")),
    fc.tuple(fc.constantFrom("Basic ", "Bearer ", "DPoP ", "basic ", ""), hostile).map(([p, v]) => p + v),
    hostile.map((v) => `Basic ${Buffer.from(v).toString("base64")}`)
  )),
  fc.tuple(fc.constant("dpop"), fc.oneof(hostile, fc.constant(slot("dpop")), corruption.map((corrupt) => ({ slot: "dpop", corrupt }) as const))),
  fc.tuple(fc.constant("cookie"), fc.oneof(hostile, fc.constantFrom(slot("session_cookie"), slot("interaction_cookie"), slot("device_cookie")))),
  fc.tuple(fc.constantFrom("x-forwarded-for", "forwarded", "origin", "accept", "accept-language", "host", "content-encoding", "expect", "x-http-method-override", "content-length"), hostile),
  fc.tuple(hostile, hostile)
)

/** Mostly absent (the template's own), sometimes `value`; absent is what shrinking goes to. */
const sometimes = <A>(odds: number, value: fc.Arbitrary<A>) =>
  fc.oneof({ weight: odds, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value })

const envelope: fc.Arbitrary<Envelope> = fc.record({
  method: sometimes(8, fc.constantFrom(...methods)),
  contentType: sometimes(6, fc.constantFrom(...contentTypes)),
  encoding: fc.oneof({ weight: 6, arbitrary: fc.constant("proper" as const) }, fc.constant("raw" as const), fc.constant("broken" as const)),
  chunked: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  headers: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(extraHeader, { minLength: 1, maxLength: 2 }) }),
  bytes: sometimes(10, fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }))
})

/** A route's valid request before breakage: where the values go decides how it is sent. */
interface Template {
  readonly route: string
  readonly method: string
  readonly path: ReadonlyArray<Text>
  readonly pairs: Pairs
  /** The pairs travel in the query (GET) or in a form body. */
  readonly where: "query" | "form"
  readonly headers: ReadonlyArray<readonly [string, Text]>
}

const realm = (name: Slot = "realm") => fc.oneof({ weight: 12, arbitrary: fc.constant(slot(name)) }, { weight: 1, arbitrary: hostile })

/** A template, one mutation of its pairs, one envelope: the request as sent. */
const build = (template: fc.Arbitrary<Template>): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(template, mutation, envelope).map(([t, m, e]) => {
    const method = e.method ?? t.method
    const pairs = mutate(t.pairs, m)
    const headers = [...t.headers, ...e.headers]
    const withType = e.contentType !== undefined ? [...headers.filter(([n]) => n !== "content-type"), ["content-type", e.contentType] as const] : headers
    const bodyFor = (): Body =>
      e.bytes !== undefined ? { kind: "bytes", bytes: [...Buffer.from(pairsText(pairs)), ...e.bytes] } : { kind: "form", pairs, encoding: e.encoding }
    return {
      endpoint: `${method} ${t.route}`,
      method,
      path: t.path,
      ...(t.where === "query" ? { query: { pairs, encoding: e.encoding } } : {}),
      headers: withType,
      ...(t.where === "form" ? { body: bodyFor() } : e.bytes !== undefined ? { body: { kind: "bytes", bytes: e.bytes } as const } : {}),
      chunked: e.chunked
    } satisfies FuzzRequest as FuzzRequest
  })

/** Literal pairs joined raw (for the invalid-UTF-8 variant: the valid text, then bytes that are not UTF-8). */
const pairsText = (pairs: Pairs) => pairs.filter(([k, v]) => typeof k === "string" && typeof v === "string").map(([k, v]) => `${k}=${v}`).join("&")

const formHeaders = [["content-type", formType]] as const

/** A value the fixture holds (mostly), or one the schema's arbitrary made. */
const realOr = (real: Text, generated: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(real) }, { weight: 1, arbitrary: generated })

// --- the token endpoint, from TokenRequest's schema ---

/** The six token request shapes, as the protocol's schema describes them (grant type, field names, literal types). */
const tokenShape = Arbitrary.make(Schema.encodedSchema(TokenRequest.TokenRequest))

/** Each field the fixture has a real value for, per grant. */
const realToken: Record<string, Text> = {
  code: slot("code"), code_verifier: slot("code_verifier"), redirect_uri: slot("redirect_uri"), refresh_token: slot("refresh_token"),
  assertion: slot("assertion"), subject_token: slot("agent_token"), actor_token: slot("cc_token"), device_code: slot("device_code")
}

const tokenAuth = (grant: string): ReadonlyArray<readonly [string, Text]> =>
  grant === TokenRequest.tokenExchangeGrantType ? [["authorization", slot("basic_agent")]]
    : grant === TokenRequest.deviceCodeGrantType ? []
    : [["authorization", slot("basic_cc")]]

const token: fc.Arbitrary<Template> = fc.tuple(tokenShape, fc.nat({ max: 0xff }), fc.boolean(), realm()).map(([shape, generated, withDpop, r]) => {
  const pairs: Array<readonly [Text, Text]> = []
  let bit = 0
  for (const [name, value] of Object.entries(shape as Record<string, unknown>)) {
    const use = (real: Text | undefined, made: string) => ((generated >> bit++) & 1) === 0 && real !== undefined ? real : made
    if (value === undefined) continue
    if (name === "resource") {
      for (const uri of value as ReadonlyArray<string>) pairs.push([name, use(slot("resource"), uri)])
      if ((value as ReadonlyArray<string>).length === 0 && (generated & 1) === 0) pairs.push([name, slot("resource")])
    } else if (name === "scope") {
      pairs.push([name, (value as ReadonlyArray<string>).length === 0 ? "read" : (value as ReadonlyArray<string>).join(" ")])
    } else if (typeof value === "string") {
      pairs.push([name, use(realToken[name], value)])
    }
  }
  const grant = (shape as { grant_type: string }).grant_type
  if (grant === TokenRequest.deviceCodeGrantType) pairs.push(["client_id", slot("pub_id")])
  return {
    route: "/realms/:realm/token", method: "POST", path: ["/realms/", r, "/token"], pairs, where: "form",
    headers: [...formHeaders, ...tokenAuth(grant), ...(withDpop ? [["dpop", slot("dpop")] as const] : [])]
  }
})

// --- introspection, revocation, userinfo, device authorization ---

const anyToken = fc.constantFrom<Text>(slot("access_token"), slot("refresh_token"), slot("cc_token"), slot("agent_token"), slot("id_token"), slot("code"))

const tokenPost = (name: "introspect" | "revoke") =>
  fc.tuple(anyToken, fc.constantFrom("access_token", "refresh_token", "", "x"), fc.constantFrom(slot("basic_cc"), slot("basic_agent")), realm())
    .map(([t, hint, auth, r]): Template => ({
      route: `/realms/:realm/${name}`, method: "POST", path: ["/realms/", r, `/${name}`],
      pairs: [["token", t], ...(hint !== "" ? [["token_type_hint", hint] as const] : [])], where: "form",
      headers: [...formHeaders, ["authorization", auth]]
    }))

const userinfo = fc.tuple(fc.constantFrom("GET", "POST"), anyToken, fc.constantFrom("Bearer ", "DPoP ", "bearer "), fc.boolean(), realm())
  .map(([method, t, scheme, inBody, r]): Template => ({
    route: "/realms/:realm/userinfo", method, path: ["/realms/", r, "/userinfo"],
    pairs: method === "POST" && inBody ? [["access_token", t]] : [], where: method === "POST" ? "form" : "query",
    headers: [
      ...(method === "POST" ? formHeaders : []),
      ...(inBody && method === "POST" ? [] : [["authorization", typeof t === "string" ? scheme + t : { ...t, prefix: scheme }] as const]),
      ...(scheme === "DPoP " ? [["dpop", slot("dpop")] as const] : [])
    ]
  }))

const deviceAuthorization = fc.tuple(realOr(slot("pub_id"), hostile), fc.constantFrom("openid", "read", "openid read write", "pay"), fc.boolean(), realm())
  .map(([client, scope, withResource, r]): Template => ({
    route: "/realms/:realm/device_authorization", method: "POST", path: ["/realms/", r, "/device_authorization"],
    pairs: [["client_id", client], ["scope", scope], ...(withResource ? [["resource", slot("resource")] as const] : [])], where: "form",
    headers: formHeaders
  }))

// --- the pages: authorize, login, consent, device, logout ---

/** OIDC Core §3.1.2.1 and OAuth 2.1 §4.1.1: every parameter AuthorizationRequest reads. */
const authorize = fc.tuple(
  fc.constantFrom("GET", "POST"),
  fc.constantFrom<Text>(slot("cc_id"), slot("pub_id"), slot("agent_id"), "https://127.0.0.1:1/client.json"),
  fc.subarray(["prompt", "response_mode", "max_age", "login_hint", "id_token_hint", "dpop_jkt", "acr_values", "ui_locales", "resource"]),
  fc.constantFrom(...AuthorizationRequest.prompts),
  fc.constantFrom(...AuthorizationRequest.responseModes),
  fc.boolean(),
  realm()
).map(([method, client, optional, prompt, mode, withSession, r]): Template => {
  const extra: Record<string, Text> = {
    prompt, response_mode: mode, max_age: "0", login_hint: slot("username"), id_token_hint: slot("id_token"), dpop_jkt: slot("jkt"),
    acr_values: "urn:x", ui_locales: "en", resource: slot("resource")
  }
  return {
    route: "/realms/:realm/authorize", method, path: ["/realms/", r, "/authorize"],
    pairs: [
      ["client_id", client], ["redirect_uri", slot("redirect_uri")], ["response_type", "code"], ["scope", "openid read"],
      ["state", "s"], ["nonce", "n"], ["code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"], ["code_challenge_method", "S256"],
      ...optional.map((name) => [name, extra[name]!] as const)
    ],
    where: method === "GET" ? "query" : "form",
    headers: [...(method === "POST" ? formHeaders : []), ...(withSession ? [["cookie", slot("session_cookie")] as const] : [])]
  }
})

const interactionForm = (route: "login" | "consent", fields: Pairs) =>
  fc.tuple(fc.constantFrom("POST", "POST", "GET"), realm()).map(([method, r]): Template => ({
    route: `/realms/:realm/${route}`, method, path: ["/realms/", r, `/${route}`],
    pairs: [["interaction", slot("interaction")], ["csrf", slot("csrf")], ...fields], where: method === "GET" ? "query" : "form",
    headers: [...formHeaders, ["cookie", slot("interaction_cookie")]]
  }))

const login = interactionForm("login", [["username", slot("username")], ["password", "wrong password"]])
const consent = fc.constantFrom("allow", "deny").chain((decision) => interactionForm("consent", [["decision", decision]]))

const device = fc.tuple(fc.constantFrom("GET", "POST"), realm()).map(([method, r]): Template => ({
  route: "/realms/:realm/device", method, path: ["/realms/", r, "/device"],
  pairs: [["user_code", slot("user_code")], ...(method === "POST" ? [["csrf", slot("csrf")] as const] : [])],
  where: method === "GET" ? "query" : "form",
  headers: [...formHeaders, ["cookie", slot("device_cookie")]]
}))

const logout = fc.tuple(fc.constantFrom("GET", "POST", "confirm"), realm()).map(([method, r]): Template =>
  method === "confirm"
    ? {
      route: "/realms/:realm/logout/confirm", method: "POST", path: ["/realms/", r, "/logout/confirm"],
      pairs: [["csrf", slot("csrf")], ["interaction", slot("interaction")]], where: "form",
      headers: [...formHeaders, ["cookie", slot("session_cookie")]]
    }
    : {
      route: "/realms/:realm/logout", method, path: ["/realms/", r, "/logout"],
      pairs: [["id_token_hint", slot("id_token")], ["post_logout_redirect_uri", "http://127.0.0.1:9/signed-out"], ["state", "bye"], ["client_id", slot("cc_id")]],
      where: method === "GET" ? "query" : "form",
      headers: method === "POST" ? formHeaders : []
    })

// --- JSON endpoints: dynamic registration and the admin API, from ClientMetadata's and Admin's schemas ---

type JsonMutation =
  | { readonly kind: "none" }
  | { readonly kind: "set"; readonly key: string; readonly value: unknown }
  | { readonly kind: "drop"; readonly index: number }
  | { readonly kind: "text"; readonly corrupt: Corruption }

const jsonMutation = (keys: ReadonlyArray<string>): fc.Arbitrary<JsonMutation> => fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: "none" } as const) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys) }, hostile), value: hostileJson }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("text" as const), corrupt: corruption }) }
)

const jsonBody = (value: Record<string, unknown>, m: JsonMutation): Body => {
  switch (m.kind) {
    case "none":
      return { kind: "json", value }
    case "set":
      return { kind: "json", value: { ...value, [m.key]: m.value } }
    case "drop": {
      const keys = Object.keys(value)
      if (keys.length === 0) return { kind: "json", value }
      const { [keys[m.index % keys.length]!]: _, ...rest } = value
      return { kind: "json", value: rest }
    }
    case "text":
      return { kind: "text", text: applyCorruption(JSON.stringify(value), m.corrupt) }
  }
}

interface JsonTemplate {
  readonly route: string
  readonly method: string
  readonly path: ReadonlyArray<Text>
  readonly value?: Record<string, unknown>
  readonly auth: boolean
}

const owner = fc.oneof(
  { weight: 5, arbitrary: fc.constant<ReadonlyArray<readonly [string, Text]>>([["authorization", slot("owner")]]) },
  { weight: 1, arbitrary: fc.constant<ReadonlyArray<readonly [string, Text]>>([]) },
  { weight: 1, arbitrary: corruption.map((corrupt): ReadonlyArray<readonly [string, Text]> => [["authorization", { slot: "owner", corrupt }]]) }
)

const buildJson = (template: fc.Arbitrary<JsonTemplate>): fc.Arbitrary<FuzzRequest> =>
  template.chain((t) =>
    fc.tuple(jsonMutation([...Object.keys(t.value ?? {}), "x"]), envelope, owner).map(([m, e, auth]): FuzzRequest => {
      const method = e.method ?? t.method
      const body: Body | undefined = t.value === undefined
        ? (e.bytes !== undefined ? { kind: "bytes", bytes: e.bytes } : undefined)
        : e.bytes !== undefined ? { kind: "bytes", bytes: [...Buffer.from(JSON.stringify(t.value)).subarray(0, 20), ...e.bytes] }
        : jsonBody(t.value, m)
      return {
        endpoint: `${method} ${t.route}`,
        method,
        path: t.path,
        headers: [
          ...(body !== undefined ? [["content-type", e.contentType ?? "application/json"] as const] : []),
          ...(t.auth ? auth : []),
          ...e.headers
        ],
        ...(body !== undefined ? { body } : {}),
        chunked: e.chunked
      }
    }))

/** RFC 7591 §2 metadata with every grant type and authentication method ClientMetadata knows. */
const registration = fc.tuple(fc.subarray([...ClientMetadata.grantTypes], { minLength: 1 }), fc.constantFrom(...ClientMetadata.authMethods), realm())
  .map(([grants, method, r]): JsonTemplate => ({
    route: "/realms/:realm/register", method: "POST", path: ["/realms/", r, "/register"], auth: false,
    value: {
      client_name: "fuzzed", redirect_uris: ["http://127.0.0.1:9/cb"], grant_types: grants, response_types: ["code"],
      token_endpoint_auth_method: method, scope: "openid read", principal_type: "app", dpop_bound_access_tokens: false
    }
  }))

const admin = fc.oneof(
  // a new realm costs its signing keys (an RSA key pair): a valid one now and then, mostly a broken one
  fc.tuple(Arbitrary.make(Admin.CreateRealm), hostile).map(([value, broken]): JsonTemplate => ({
    route: "/admin/realms", method: "POST", path: ["/admin/realms"], value: { name: broken.length % 8 === 0 ? value.name : `${value.name}${broken}` }, auth: true
  })),
  fc.tuple(Arbitrary.make(Admin.PatchRealm), realm("scratch")).map(([value, r]): JsonTemplate => ({ route: "/admin/realms/:realm", method: "PATCH", path: ["/admin/realms/", r], value: { ...value }, auth: true })),
  fc.tuple(Arbitrary.make(Admin.CreateUser), realm("scratch")).map(([value, r]): JsonTemplate => ({ route: "/admin/realms/:realm/users", method: "POST", path: ["/admin/realms/", r, "/users"], value: { ...value }, auth: true })),
  // CreateResource's and CreateTrustedIssuer's URI filters have no arbitrary (rejection sampling would never end):
  // their fields, with URIs under .invalid (nothing is ever fetched) and scopes from the schema's own arbitrary
  fc.tuple(fc.nat({ max: 1e6 }), Arbitrary.make(Schema.Array(Schema.String.pipe(Schema.pattern(/^[a-z:]{1,12}$/)))), realm("scratch"))
    .map(([n, scopes, r]): JsonTemplate => ({
      route: "/admin/realms/:realm/resources", method: "POST", path: ["/admin/realms/", r, "/resources"], auth: true,
      value: { uri: `https://api${n}.invalid/`, scopes: [...new Set(["read", ...scopes])], step_up_scopes: [] } satisfies typeof Admin.CreateResource.Encoded
    })),
  fc.tuple(fc.nat({ max: 1e6 }), realm("scratch")).map(([n, r]): JsonTemplate => ({
    route: "/admin/realms/:realm/trusted-issuers", method: "POST", path: ["/admin/realms/", r, "/trusted-issuers"], auth: true,
    value: { issuer: `https://idp${n}.invalid`, jwks: { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] } } satisfies typeof Admin.CreateTrustedIssuer.Encoded
  })),
  fc.tuple(registration, realm("scratch")).map(([t, r]): JsonTemplate => ({ ...t, route: "/admin/realms/:realm/clients", path: ["/admin/realms/", r, "/clients"], auth: true })),
  fc.tuple(fc.constantFrom("/audit", "/audit/verify", "/keys", "/audit", "/audit/verify", "/keys", "/keys/rotate", ""), realm("scratch"), fc.option(fc.tuple(fc.constantFrom("cursor", "limit", "type", "since"), hostile)))
    .map(([tail, r, q]): JsonTemplate => ({
      route: `/admin/realms/:realm${tail}`, method: tail === "/keys/rotate" ? "POST" : "GET", auth: true,
      path: ["/admin/realms/", r, tail, ...(q !== null ? [`?${q[0]}=${q[1]}`] : [])]
    })),
  fc.constant<JsonTemplate>({ route: "/admin/openapi.json", method: "GET", path: ["/admin/openapi.json"], auth: true })
)

// --- documents, and noise ---

const documents = fc.tuple(
  fc.constantFrom(
    ...([
      ["/realms/", "/.well-known/openid-configuration"], ["/.well-known/oauth-authorization-server/realms/", ""],
      ["/.well-known/openid-configuration/realms/", ""], ["/realms/", "/jwks"], ["/realms/", "/token"], ["/realms/", "/register"],
      ["/healthz", ""], ["/readyz", ""]
    ] as const)
  ),
  fc.constantFrom("GET", "GET", "OPTIONS", "HEAD"),
  realm(),
  fc.array(fc.tuple(fc.constantFrom("origin", "access-control-request-method", "access-control-request-headers", "if-none-match"), hostile), { maxLength: 2 })
  // the health checks have no realm: the realm is appended as a query, which they must ignore
).map(([[before, after], method, r, headers]): FuzzRequest => before.endsWith("z") ? {
  endpoint: `${method} ${before}`, method, path: [before, "?", r], headers, chunked: false
} : ({
  endpoint: `${method} ${before}:realm${after}`,
  method, path: [before, r, after], headers, chunked: false
}))

/** Paths that are noise: hostile segments, broken percent-encoding, dot segments, very long, every method. */
const noise = fc.tuple(
  fc.constantFrom(...methods),
  fc.array(fc.oneof(hostile, fc.constantFrom("realms", "admin", ".well-known", "..", "%2e%2e", "%2F", "token", "%", "%zz", "")), { minLength: 1, maxLength: 5 }),
  fc.option(hostile),
  fc.array(extraHeader, { maxLength: 3 }),
  fc.option(fc.oneof(
    hostile.map((text): Body => ({ kind: "text", text })),
    fc.array(fc.nat({ max: 255 }), { maxLength: 64 }).map((bytes): Body => ({ kind: "bytes", bytes })),
    fc.tuple(fc.constantFrom("a", "a=b&", "\u0000", "é"), fc.constantFrom(65_536, 70_000, 300_000)).map(([unit, count]): Body => ({ kind: "repeat", unit, count }))
  )),
  fc.boolean()
).map(([method, segments, query, headers, body, chunked]): FuzzRequest => ({
  endpoint: `${method} (noise)`,
  method,
  path: ["/" + segments.join("/") + (query !== null ? `?${query}` : "")],
  headers,
  ...(body !== null ? { body } : {}),
  chunked
}))

/** Over the 64 KiB body limit on a real endpoint, with and without Content-Length (CONTRACT §2). */
const oversized = fc.tuple(
  fc.constantFrom("/token", "/userinfo", "/introspect", "/revoke", "/device_authorization", "/register", "/login", "/consent", "/logout", "/device", "/authorize"),
  fc.constantFrom(65_537, 100_000, 1_000_000),
  fc.boolean(),
  realm()
).map(([tail, count, chunked, r]): FuzzRequest => ({
  endpoint: `POST /realms/:realm${tail} (oversized)`,
  method: "POST",
  path: ["/realms/", r, tail],
  headers: [["content-type", tail === "/register" ? "application/json" : formType]],
  body: { kind: "repeat", unit: "a", count },
  chunked
}))

/** Every endpoint and page, weighted towards the ones with the most code behind them. */
export const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 8, arbitrary: build(token) },
  { weight: 2, arbitrary: build(tokenPost("introspect")) },
  { weight: 2, arbitrary: build(tokenPost("revoke")) },
  { weight: 2, arbitrary: build(userinfo) },
  { weight: 2, arbitrary: build(deviceAuthorization) },
  { weight: 4, arbitrary: build(authorize) },
  { weight: 2, arbitrary: build(login) },
  { weight: 2, arbitrary: build(consent) },
  { weight: 2, arbitrary: build(device) },
  { weight: 2, arbitrary: build(logout) },
  { weight: 2, arbitrary: buildJson(registration) },
  { weight: 3, arbitrary: buildJson(admin) },
  { weight: 2, arbitrary: documents },
  { weight: 2, arbitrary: noise },
  { weight: 1, arbitrary: oversized }
)
