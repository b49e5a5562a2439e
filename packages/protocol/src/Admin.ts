/** The admin API's request and response bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "./Body.js"
import * as RedirectUri from "./RedirectUri.js"
import * as ScopeToken from "./ScopeToken.js"

/** CONTRACT §2: realm names. */
export const RealmName = field(Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9-]{0,62}$/)), "must match ^[a-z0-9][a-z0-9-]{0,62}$")

export const CreateRealm = Schema.Struct({ name: RealmName })

export const RealmCreated = Schema.Struct({ name: Schema.String, issuer: Schema.String })

const DisplayName = field(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)), "must be a string of 1 to 200 characters")

export const PatchRealm = Schema.Struct({
  display_name: Schema.optional(DisplayName),
  dynamic_registration: Schema.optional(field(Schema.Boolean, "must be a boolean"))
})

export const RealmSettings = Schema.Struct({
  name: Schema.String,
  issuer: Schema.String,
  display_name: Schema.optional(Schema.String),
  dynamic_registration: Schema.Boolean
})

const noControlOrSpace = /^[^\s\p{Cc}]+$/u

export const CreateUser = Schema.Struct({
  username: field(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255), Schema.pattern(noControlOrSpace)),
    "must be 1 to 255 characters without spaces or control characters"
  ),
  // NIST SP 800-63B §5.1.1.2: at least 8 characters; a cap keeps hashing bounded
  password: field(Schema.String.pipe(Schema.minLength(8), Schema.maxLength(1024)), "must be a string of 8 to 1024 characters"),
  email: Schema.optional(field(Schema.String.pipe(Schema.pattern(/^[^\s@]+@[^\s@]+$/), Schema.maxLength(320)), "must be an email address")),
  name: Schema.optional(DisplayName)
})

export const UserCreated = Schema.Struct({ sub: Schema.String, username: Schema.String })

const absoluteUri = RedirectUri.isAbsoluteWithoutFragment

/** RFC 8707 §2: an absolute URI without a fragment. */
export const ResourceUri = field(Schema.String.pipe(Schema.filter(absoluteUri)), "must be an absolute URI without a fragment")

const Scopes = field(
  Schema.Array(Schema.String.pipe(Schema.filter(ScopeToken.isToken))).pipe(
    Schema.filter((scopes) => new Set(scopes).size === scopes.length)
  ),
  "must be an array of distinct scope tokens (RFC 6749 §3.3)"
)

export const CreateResource = Schema.Struct({
  uri: ResourceUri,
  scopes: field(Scopes.pipe(Schema.minItems(1)), "must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"),
  step_up_scopes: Schema.optional(Scopes)
})

export const ResourceCreated = Schema.Struct({
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String)
})

const issuerUrl = (s: string) => {
  if (!RedirectUri.isUriSyntax(s)) return false
  try {
    const url = new URL(s)
    // RFC 8414 §2 / RFC 7523 §3: an https URL without query or fragment (http only on loopback, for development)
    const loopback = url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname)
    return (url.protocol === "https:" || loopback) && url.search === "" && !s.includes("#")
  } catch {
    return false
  }
}

export const CreateTrustedIssuer = Schema.Struct({
  issuer: field(Schema.String.pipe(Schema.filter(issuerUrl)), "must be an https URL without query or fragment"),
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(field(Schema.String.pipe(Schema.filter((s) => absoluteUri(s) && s.startsWith("https://"))), "must be an https URL"))
})

export const TrustedIssuerCreated = Schema.Struct({
  issuer: Schema.String,
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(Schema.String)
})

export const KeyView = Schema.Struct({
  kid: Schema.String,
  alg: Schema.String,
  status: Schema.Literal("next", "active", "retired"),
  created_at: Schema.String,
  activates_at: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String)
})

export const KeyList = Schema.Struct({ keys: Schema.Array(KeyView) })

export const AuditEventView = Schema.Struct({
  id: Schema.String,
  at: Schema.String,
  realm: Schema.String,
  type: Schema.String,
  actor: Schema.Struct({ type: Schema.Literal("user", "client", "agent", "owner"), id: Schema.String }),
  subject: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.String),
  grant_type: Schema.optional(Schema.String),
  resource: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String),
  act: Schema.optional(Schema.Unknown),
  result: Schema.Literal("success", "failure"),
  reason: Schema.optional(Schema.String),
  ip: Schema.optional(Schema.String),
  user_agent: Schema.optional(Schema.String)
})

export const AuditPage = Schema.Struct({ events: Schema.Array(AuditEventView), next_cursor: Schema.NullOr(Schema.String) })

/** The largest page of audit events one call returns. */
export const maxAuditLimit = 1000
export const defaultAuditLimit = 100

const Rfc3339 = field(
  Schema.String.pipe(
    Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i),
    Schema.filter((s) => !Number.isNaN(Date.parse(s)))
  ),
  "must be an RFC 3339 date-time"
)

/** A filter value: printable text (no control characters, which no stored field holds). */
const FilterText = field(Schema.String.pipe(Schema.pattern(/^[^\p{Cc}]{1,1024}$/u)), "must be 1 to 1024 characters without control characters")

export const AuditQuery = Schema.Struct({
  type: Schema.optional(FilterText),
  subject: Schema.optional(FilterText),
  actor: Schema.optional(FilterText),
  client_id: Schema.optional(FilterText),
  since: Schema.optional(Rfc3339),
  until: Schema.optional(Rfc3339),
  limit: Schema.optional(field(Schema.NumberFromString.pipe(Schema.int(), Schema.positive()), "must be a positive integer")),
  cursor: Schema.optional(field(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)), "must be a cursor from an earlier page"))
})

/** CONTRACT §3 `audit/verify`. */
export const AuditVerdict = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), events: Schema.Number }),
  Schema.Struct({ ok: Schema.Literal(false), first_broken: Schema.String })
)
