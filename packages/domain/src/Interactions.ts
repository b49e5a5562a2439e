/**
 * Pending authorization requests (OAuth 2.1 §4.1.1, OIDC Core §3.1.2): what a person is signing in and consenting
 * to, kept server-side between the authorization endpoint, the login form and the consent form. Single use.
 */
import { Context, Data, DateTime, Duration, Effect, Either, HashMap, Layer, Option, Schema } from "effect"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

/** How long a person has to sign in and decide: past it the forms are refused and the client must start again. */
export const lifetime = Duration.minutes(10)

/**
 * The most a stored request may weigh, as UTF-8 JSON (ADR 0026): its free-text fields (`state`, `nonce`,
 * `login_hint`, each up to 4096 characters on the wire) together; scopes, resources and the redirect URI are already
 * the client's and the realm's registered values.
 */
export const maxRequestBytes = 8192

/** How many expired interactions of the realm one `create` removes at most (ADR 0026): oldest first, by index. */
export const sweepBatch = 100

const utf8 = new TextEncoder()

/** The stored size of a request (what `maxRequestBytes` bounds). */
export const requestBytes = (request: Request) => utf8.encode(JSON.stringify(request)).length

const Strings = Schema.Array(Schema.String)

/** The device authorization an interaction decides: its device-code hash, and the user code the person confirms. */
export const DeviceRef = Schema.Struct({
  deviceCodeHash: Schema.String,
  /** Normalized (`UserCode.normalize`). */
  userCode: Schema.String
})
export interface DeviceRef extends Schema.Schema.Type<typeof DeviceRef> {}

/**
 * The authorization request once checked against the client and the realm: every field is plain data, stored as JSON
 * and read back through this schema (ADR 0054).
 */
export const Request = Schema.Struct({
  clientId: Schema.String,
  /**
   * Where the answer goes: `redirect_uri` exactly as given (a loopback one keeps its port, RFC 8252 §7.3), or the
   * client's one registered redirect URI when the request left it out (RFC 6749 §3.1.2.3). The code is bound to it.
   */
  redirectUri: Schema.String,
  /** Whether `redirect_uri` was in the request (it was not when the client has a single registered one). */
  redirectUriGiven: Schema.Boolean,
  /** RFC 6749 §3.3: the scopes asked for, after the client's and the resources' limits were checked. */
  scopes: Strings,
  /** RFC 8707: the resources the grant will be for. */
  resources: Strings,
  state: Schema.optionalWith(Schema.String, { exact: true }),
  nonce: Schema.optionalWith(Schema.String, { exact: true }),
  /** RFC 7636: the S256 challenge. */
  codeChallenge: Schema.String,
  /** RFC 9449 §10: the JWK thumbprint the code is bound to (`dpop_jkt`). */
  dpopJkt: Schema.optionalWith(Schema.String, { exact: true }),
  responseMode: Schema.Literal("query", "form_post"),
  /** OIDC Core §3.1.2.1: `none`, `login`, `consent`, `select_account`. */
  prompt: Strings,
  /** OIDC Core §3.1.2.1: seconds. */
  maxAge: Schema.optionalWith(Schema.Number, { exact: true }),
  acrValues: Strings,
  loginHint: Schema.optionalWith(Schema.String, { exact: true }),
  /** CONTRACT §5 "Step-up": a step-up scope was asked, so the person signs in again whatever the session says. */
  stepUp: Schema.Boolean,
  /**
   * Set when the person is approving a device (RFC 8628 §3.3) rather than a client's redirect: the decision goes to
   * the device authorization, and the redirect fields (`redirectUri`, `codeChallenge`, `state`) are empty and unused.
   */
  device: Schema.optionalWith(DeviceRef, { exact: true })
})
export interface Request extends Schema.Schema.Type<typeof Request> {}

/** What an interaction is in every state. */
interface Common {
  readonly realmId: string
  /** 128 random bits, base64url: names the interaction in the forms. */
  readonly id: string
  readonly request: Request
  /** base64url(SHA-256) of the CSRF token the forms carry; the token itself is never stored. */
  readonly csrfHash: string
  readonly createdAt: DateTime.Utc
  /** Past it the interaction is Expired (reached by time, never written): every transition is refused. */
  readonly expiresAt: DateTime.Utc
  /** Bumped by every transition: the store writes a state only over the version it was computed from. */
  readonly version: number
}

/** The session (`sid`) the person signed in with. */
interface SignedIn {
  readonly sid: string
}

/**
 * DESIGN "authorization request": Requested -> Authenticated -> Consented -> CodeIssued; Denied; Expired by time
 * (ADR 0054). Consented is where a device's approval ends (RFC 8628 §3.3); a client's request goes on to CodeIssued in
 * the same write. Consented, CodeIssued and Denied are final: the forms of a finished interaction are refused.
 */
export type Interaction = Data.TaggedEnum<{
  /** The request is stored; nobody has signed in for it yet. */
  Requested: Common
  /** A person signed in (or was already, OIDC Core §3.1.2.3); the consent form may be shown. */
  Authenticated: Common & SignedIn
  Consented: Common & SignedIn
  /** OAuth 2.1 §4.1.2: the code went to the client; no second one comes from this request (RFC 6749 §4.1.2). */
  CodeIssued: Common & SignedIn
  /** OAuth 2.1 §4.1.2.1 access_denied: the person refused. */
  Denied: Common & SignedIn
}>
export const Interaction = Data.taggedEnum<Interaction>()

export type Requested = Extract<Interaction, { readonly _tag: "Requested" }>
export type Authenticated = Extract<Interaction, { readonly _tag: "Authenticated" }>
/** An interaction whose forms may still be used. */
export type Open = Requested | Authenticated

/**
 * A form refused for its interaction's state: `expired` past its lifetime, `finished` once decided (a replayed or
 * racing form), `not_authenticated` when nobody has signed in for it.
 */
export class InteractionRefused extends Data.TaggedError("InteractionRefused")<{
  readonly reason: "expired" | "finished" | "not_authenticated"
}> {}

/** A compare-and-set lost: another request moved the interaction on first (or it is gone). */
export class InteractionChanged extends Data.TaggedError("InteractionChanged")<{}> {}

/** Whether the interaction may still be used at `now`. */
export const isLive = (interaction: Interaction, now: DateTime.Utc) => DateTime.lessThan(now, interaction.expiresAt)

/** A new interaction: Requested, or Authenticated when the browser's session already counts (OIDC Core §3.1.2.3). */
export const start = (common: Omit<Common, "version">, sid: string | undefined): Open =>
  sid === undefined ? Interaction.Requested({ ...common, version: 0 }) : Interaction.Authenticated({ ...common, sid, version: 0 })

/** Pure: whether the interaction's forms may be used at `now`: not decided, not expired. */
export const open = (interaction: Interaction, now: DateTime.Utc): Either.Either<Open, InteractionRefused> => {
  // single use (RFC 6749 §4.1.2): a decided interaction answers no second form
  if (interaction._tag !== "Requested" && interaction._tag !== "Authenticated") {
    return Either.left(new InteractionRefused({ reason: "finished" }))
  }
  if (!isLive(interaction, now)) return Either.left(new InteractionRefused({ reason: "expired" }))
  return Either.right(interaction)
}

/** Pure: the signed-in interaction a decision needs (the consent form is shown only to someone signed in). */
export const authenticated = (interaction: Interaction, now: DateTime.Utc): Either.Either<Authenticated, InteractionRefused> =>
  Either.flatMap(open(interaction, now), (o) =>
    o._tag === "Authenticated" ? Either.right(o) : Either.left(new InteractionRefused({ reason: "not_authenticated" })))

/**
 * Pure: a person signed in on the login form with session `sid` (Requested -> Authenticated). Signing in again on
 * the same open interaction (a step back in the browser) replaces the session.
 */
export const authenticate = (interaction: Interaction, sid: string, now: DateTime.Utc) =>
  Either.map(open(interaction, now), (o) => Interaction.Authenticated({ ...o, sid, version: o.version + 1 }))

/** Pure: the person allowed the request, on the consent form or by a consent remembered earlier. */
export const consent = (interaction: Interaction, now: DateTime.Utc) =>
  Either.map(authenticated(interaction, now), (a) => Interaction.Consented({ ...a, version: a.version + 1 }))

/**
 * Pure: the person allowed the request and the code goes to the client (Authenticated -> Consented -> CodeIssued,
 * written once, so one version step): RFC 6749 §4.1.2, one code per authorization request.
 */
export const issueCode = (interaction: Interaction, now: DateTime.Utc) =>
  Either.map(consent(interaction, now), (c) => Interaction.CodeIssued({ ...c }))

/** Pure: the person refused (OAuth 2.1 §4.1.2.1 access_denied; RFC 8628 §3.3 for a device). */
export const deny = (interaction: Interaction, now: DateTime.Utc) =>
  Either.map(authenticated(interaction, now), (a) => Interaction.Denied({ ...a, version: a.version + 1 }))

export class Interactions extends Context.Tag("@tessera/domain/Interactions")<Interactions, {
  /**
   * Stores the interaction, first removing at most `sweepBatch` of the realm's interactions that expired by its
   * `createdAt` (oldest first): abandoned sign-ins do not pile up, and no request pays for more than a batch.
   */
  readonly create: (interaction: Open) => Effect.Effect<void, StoreError>
  /** The interaction in whatever state, expired or not (the transitions check); none when unknown or swept. */
  readonly find: (realmId: string, id: string) => Effect.Effect<Option.Option<Interaction>, StoreError>
  /**
   * Writes `next` (a transition's result) if the stored interaction is still at `next.version - 1`, the version it
   * was computed from: of two racing transitions of one state, one applies and the other is `InteractionChanged`.
   */
  readonly apply: (next: Interaction) => Effect.Effect<void, InteractionChanged | StoreError>
}>() {}

const k = MemoryDb.key

export const layerMemory = Layer.effect(Interactions, Effect.map(MemoryDb.MemoryDb, (db) => Interactions.of({
  create: (interaction) =>
    MemoryDb.write(db, (state) => {
      const expired = Array.from(HashMap.values(state.interactions))
        .filter((i) => i.realmId === interaction.realmId && !isLive(i, interaction.createdAt))
        .sort((a, b) => DateTime.toEpochMillis(a.expiresAt) - DateTime.toEpochMillis(b.expiresAt))
        .slice(0, sweepBatch)
      const swept = expired.reduce((map, i) => HashMap.remove(map, k(i.realmId, i.id)), state.interactions)
      const interactions = HashMap.set(swept, k(interaction.realmId, interaction.id), interaction)
      return Effect.succeed([undefined, { ...state, interactions }] as const)
    }),
  find: (realmId, id) => MemoryDb.read(db, (state) => HashMap.get(state.interactions, k(realmId, id))),
  apply: (next) =>
    MemoryDb.write(db, (state) => {
      const id = k(next.realmId, next.id)
      const found = HashMap.get(state.interactions, id)
      if (Option.isNone(found) || found.value.version !== next.version - 1) return Effect.fail(new InteractionChanged())
      return Effect.succeed([undefined, { ...state, interactions: HashMap.set(state.interactions, id, next) }] as const)
    })
})))
