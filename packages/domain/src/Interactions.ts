/**
 * Pending authorization requests (OAuth 2.1 §4.1.1, OIDC Core §3.1.2): what a person is signing in and consenting
 * to, kept server-side between the authorization endpoint, the login form and the consent form. Single use.
 */
import { Context, DateTime, Duration, Effect, HashMap, Layer, Option } from "effect"
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

/** The authorization request once checked against the client and the realm: every field is plain data. */
export interface Request {
  readonly clientId: string
  /**
   * Where the answer goes: `redirect_uri` exactly as given (a loopback one keeps its port, RFC 8252 §7.3), or the
   * client's one registered redirect URI when the request left it out (RFC 6749 §3.1.2.3). The code is bound to it.
   */
  readonly redirectUri: string
  /** Whether `redirect_uri` was in the request (it was not when the client has a single registered one). */
  readonly redirectUriGiven: boolean
  /** RFC 6749 §3.3: the scopes asked for, after the client's and the resources' limits were checked. */
  readonly scopes: ReadonlyArray<string>
  /** RFC 8707: the resources the grant will be for. */
  readonly resources: ReadonlyArray<string>
  readonly state?: string
  readonly nonce?: string
  /** RFC 7636: the S256 challenge. */
  readonly codeChallenge: string
  /** RFC 9449 §10: the JWK thumbprint the code is bound to (`dpop_jkt`). */
  readonly dpopJkt?: string
  readonly responseMode: "query" | "form_post"
  /** OIDC Core §3.1.2.1: `none`, `login`, `consent`, `select_account`. */
  readonly prompt: ReadonlyArray<string>
  /** OIDC Core §3.1.2.1: seconds. */
  readonly maxAge?: number
  readonly acrValues: ReadonlyArray<string>
  readonly loginHint?: string
  /** CONTRACT §5 "Step-up": a step-up scope was asked, so the person signs in again whatever the session says. */
  readonly stepUp: boolean
  /**
   * Set when the person is approving a device (RFC 8628 §3.3) rather than a client's redirect: the decision goes to
   * the device authorization, and the redirect fields (`redirectUri`, `codeChallenge`, `state`) are empty and unused.
   */
  readonly device?: DeviceRef
}

/** The device authorization an interaction decides: its device-code hash, and the user code the person confirms. */
export interface DeviceRef {
  readonly deviceCodeHash: string
  /** Normalized (`UserCode.normalize`). */
  readonly userCode: string
}

export interface Interaction {
  readonly realmId: string
  /** 128 random bits, base64url: names the interaction in the forms. */
  readonly id: string
  readonly request: Request
  /** base64url(SHA-256) of the CSRF token the forms carry; the token itself is never stored. */
  readonly csrfHash: string
  /** The session (`sid`) the person is signed in with, once they are. */
  readonly sid?: string
  readonly createdAt: DateTime.Utc
  readonly expiresAt: DateTime.Utc
}

/** Whether the interaction may still be used at `now`. */
export const isLive = (interaction: Interaction, now: DateTime.Utc) => DateTime.lessThan(now, interaction.expiresAt)

export class Interactions extends Context.Tag("@tessera/domain/Interactions")<Interactions, {
  /**
   * Stores the interaction, first removing at most `sweepBatch` of the realm's interactions that expired by its
   * `createdAt` (oldest first): abandoned sign-ins do not pile up, and no request pays for more than a batch.
   */
  readonly create: (interaction: Interaction) => Effect.Effect<void, StoreError>
  /** The interaction, expired or not (the caller checks `isLive`); none once consumed. */
  readonly find: (realmId: string, id: string) => Effect.Effect<Option.Option<Interaction>, StoreError>
  /** Records who signed in (the session's `sid`); nothing happens when the interaction is gone. */
  readonly update: (realmId: string, id: string, sid: string) => Effect.Effect<void, StoreError>
  /** Atomically removes the interaction and returns it: of two racing calls, one gets it and the other none. */
  readonly consume: (realmId: string, id: string) => Effect.Effect<Option.Option<Interaction>, StoreError>
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
  update: (realmId, id, sid) =>
    MemoryDb.write(db, (state) => {
      const found = HashMap.get(state.interactions, k(realmId, id))
      if (Option.isNone(found)) return Effect.succeed([undefined, state] as const)
      const interactions = HashMap.set(state.interactions, k(realmId, id), { ...found.value, sid })
      return Effect.succeed([undefined, { ...state, interactions }] as const)
    }),
  consume: (realmId, id) =>
    MemoryDb.write(db, (state): Effect.Effect<readonly [Option.Option<Interaction>, MemoryDb.State]> => {
      const found = HashMap.get(state.interactions, k(realmId, id))
      if (Option.isNone(found)) return Effect.succeed([found, state] as const)
      return Effect.succeed([found, { ...state, interactions: HashMap.remove(state.interactions, k(realmId, id)) }] as const)
    })
})))
