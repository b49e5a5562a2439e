/** The client credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2): a token for the client itself, for one resource. */
import { Data, Effect, Either } from "effect"
import * as Audience from "../Audience.js"
import type { Client } from "../Client.js"
import * as Client_ from "../Client.js"
import type { Realm } from "../Realm.js"
import type { RequestContext } from "../RequestContext.js"
import type { Resource } from "../Resource.js"
import { Resources } from "../Resources.js"
import type * as Tokens from "../Tokens.js"
import * as TokenIssuance from "./TokenIssuance.js"
import * as Tracing from "../Tracing.js"

export const grantType = "client_credentials"

/** RFC 6749 §4.4: the grant is for confidential clients only (unauthorized_client). */
export class ClientRejected extends Data.TaggedError("ClientRejected")<{ readonly reason: "public_client" }> {}

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client, registered for this grant type (the endpoint checks `grant_types`). */
  readonly client: Client
  readonly scope: ReadonlyArray<string> | undefined
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved with a DPoP proof, or none; every access token minted is bound to it. */
  readonly dpopKey: Tokens.DpopKey
}

/**
 * The grant's decision, pure: RFC 6749 §4.4.2 (a confidential client), then the audience and scope of CONTRACT §5
 * ("Audience") from the realm's `resources`.
 */
export const choose = (
  input: Pick<Command, "client" | "scope" | "resource"> & { readonly resources: ReadonlyArray<Resource> }
): Either.Either<Audience.Choice, ClientRejected | Audience.TargetRejected | Audience.ScopeRejected> =>
  // RFC 6749 §4.4.2: the client MUST authenticate; a public client cannot (registration refuses the pair too)
  !Client_.isConfidential(input.client.metadata)
    ? Either.left(new ClientRejected({ reason: "public_client" }))
    : Audience.forClient({
      requestedResource: input.resource,
      clientResources: input.client.metadata.resources,
      clientScopes: input.client.metadata.scope?.split(" "),
      requestedScopes: input.scope,
      resources: input.resources
    })

/** RFC 9068 §2.2: with no resource owner, `sub` is the client's own id. */
export const clientToken = (cmd: Omit<Command, "scope" | "resource">, choice: Audience.Choice): TokenIssuance.ClientToken => ({
  realm: cmd.realm,
  issuer: cmd.issuer,
  client: cmd.client,
  sub: cmd.client.clientId,
  choice,
  grantType,
  context: cmd.context,
  dpopKey: cmd.dpopKey
})

export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const choice = yield* choose({ ...cmd, resources: yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id)) })
  // RFC 6749 §4.4.3: no refresh token; there is no person, so no ID token
  return yield* TokenIssuance.issueClientToken(clientToken(cmd, choice))
}, Tracing.span("ClientCredentialsGrant.handle"))
