/**
 * What every answer of a row must be (Load.Request.check), checked on each 2xx answer in the load generator: the JSON
 * members and, for a token, the claims of its access token. The signature is verified once before the run
 * (tokens.ts's checkEquivalent, the fixtures' checks), not on every answer: that would cost the load generator, on
 * the same two cores, more than the server's answer.
 */
type Json = Record<string, unknown>

const parse = (body: string): Json | string => {
  try {
    const value = JSON.parse(body) as unknown
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Json : `not a JSON object: ${body.slice(0, 200)}`
  } catch {
    return `not JSON: ${body.slice(0, 200)}`
  }
}

/** The JWT's header and payload (RFC 7519 §7.2 steps 1-7 without the signature), or what is wrong. */
const decodeJwt = (token: unknown): { header: Json; payload: Json } | string => {
  if (typeof token !== "string") return "no access_token"
  const parts = token.split(".")
  if (parts.length !== 3) return "access_token is not a compact JWS"
  const header = parse(Buffer.from(parts[0]!, "base64url").toString("utf8"))
  const payload = parse(Buffer.from(parts[1]!, "base64url").toString("utf8"))
  if (typeof header === "string") return `JWT header ${header}`
  if (typeof payload === "string") return `JWT payload ${payload}`
  return { header, payload }
}

const differs = (what: string, got: unknown, want: unknown) =>
  got === want ? undefined : `${what} ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`

const first = (...problems: ReadonlyArray<string | undefined>) => problems.find((p) => p !== undefined)

export interface TokenAnswer {
  readonly issuer: string
  readonly resource: string
  readonly scope: string
  readonly lifetime: number
  readonly clientId: string
  /** The client's id for client credentials (RFC 9068 §2.2), the person's `sub` for a person's grant. */
  readonly sub: string
  /** RFC 9449 §5: a DPoP-bound token names the proof key's thumbprint; else a Bearer token. */
  readonly jkt?: string
  /** The code and refresh grants answer a (rotated) refresh token too. */
  readonly refreshToken: boolean
}

/**
 * RFC 6749 §5.1 with an RFC 9068 access token: token_type, expires_in, scope (and refresh_token when expected); the
 * token an ES256 `at+jwt` from the issuer for the resource, with the client, subject, scope and lifetime expected.
 */
export const tokenAnswer = (e: TokenAnswer) => (body: string): string | undefined => {
  const json = parse(body)
  if (typeof json === "string") return json
  const jwt = decodeJwt(json["access_token"])
  if (typeof jwt === "string") return jwt
  const { header, payload } = jwt
  const iat = payload["iat"]
  const exp = payload["exp"]
  const jkt = (payload["cnf"] as { jkt?: unknown } | undefined)?.jkt
  return first(
    differs("token_type", json["token_type"], e.jkt === undefined ? "Bearer" : "DPoP"),
    differs("expires_in", json["expires_in"], e.lifetime),
    differs("scope", json["scope"], e.scope),
    e.refreshToken && (typeof json["refresh_token"] !== "string" || json["refresh_token"].length < 16) ? "no refresh_token" : undefined,
    !e.refreshToken && json["refresh_token"] !== undefined ? "an unexpected refresh_token" : undefined,
    differs("alg", header["alg"], "ES256"),
    differs("typ", header["typ"], "at+jwt"),
    differs("iss", payload["iss"], e.issuer),
    differs("aud", Array.isArray(payload["aud"]) && payload["aud"].length === 1 ? payload["aud"][0] : payload["aud"], e.resource),
    differs("client_id", payload["client_id"], e.clientId),
    differs("sub", payload["sub"], e.sub),
    differs("scope claim", payload["scope"], e.scope),
    typeof iat === "number" && typeof exp === "number" ? differs("exp - iat", exp - iat, e.lifetime) : "no iat or exp",
    typeof payload["jti"] === "string" ? undefined : "no jti",
    differs("cnf.jkt", jkt, e.jkt)
  )
}

/** RFC 7662 §2.2: an active token of the caller, for the resource, with its scope and lifetime. */
export const introspectionAnswer = (e: { readonly clientId: string; readonly resource: string; readonly scope: string; readonly lifetime: number }) =>
(body: string): string | undefined => {
  const json = parse(body)
  if (typeof json === "string") return json
  const aud = json["aud"]
  const exp = json["exp"]
  const iat = json["iat"]
  return first(
    differs("active", json["active"], true),
    differs("client_id", json["client_id"], e.clientId),
    differs("scope", json["scope"], e.scope),
    differs("token_type", json["token_type"], "Bearer"),
    differs("aud", Array.isArray(aud) && aud.length === 1 ? aud[0] : aud, e.resource),
    typeof exp === "number" && typeof iat === "number" ? differs("exp - iat", exp - iat, e.lifetime) : "no exp or iat"
  )
}

/** RFC 7517 §5: a key set whose keys are public (no `d`), among them the ES256 key the tokens are signed with. */
export const jwksAnswer = (keys: number) => (body: string): string | undefined => {
  const json = parse(body)
  if (typeof json === "string") return json
  const set = json["keys"]
  if (!Array.isArray(set)) return "no keys"
  return first(
    differs("number of keys", set.length, keys),
    set.some((k: Json) => k["d"] !== undefined) ? "a private key member" : undefined,
    set.some((k: Json) => k["alg"] === "ES256" && k["kty"] === "EC" && typeof k["kid"] === "string") ? undefined : "no ES256 key"
  )
}

/** OIDC Discovery 1.0 §3: the issuer's own document, with the endpoints the other rows use. */
export const discoveryAnswer = (issuer: string) => (body: string): string | undefined => {
  const json = parse(body)
  if (typeof json === "string") return json
  return first(
    differs("issuer", json["issuer"], issuer),
    typeof json["token_endpoint"] === "string" ? undefined : "no token_endpoint",
    typeof json["jwks_uri"] === "string" ? undefined : "no jwks_uri",
    typeof json["authorization_endpoint"] === "string" ? undefined : "no authorization_endpoint"
  )
}

/** RFC 8693 §2.2.1: an access token for the resource, for the person, acted by the agent (RFC 8693 §4.1). */
export const exchangeAnswer = (e: { readonly issuer: string; readonly resource: string; readonly scope: string; readonly sub: string; readonly agent: string; readonly lifetime: number }) =>
(body: string): string | undefined => {
  const json = parse(body)
  if (typeof json === "string") return json
  const jwt = decodeJwt(json["access_token"])
  if (typeof jwt === "string") return jwt
  const act = jwt.payload["act"] as { sub?: unknown } | undefined
  return first(
    differs("issued_token_type", json["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token"),
    differs("token_type", json["token_type"], "Bearer"),
    differs("typ", jwt.header["typ"], "at+jwt"),
    differs("iss", jwt.payload["iss"], e.issuer),
    differs("aud", jwt.payload["aud"], e.resource),
    differs("sub", jwt.payload["sub"], e.sub),
    differs("act.sub", act?.sub, e.agent),
    differs("scope claim", jwt.payload["scope"], e.scope)
  )
}
