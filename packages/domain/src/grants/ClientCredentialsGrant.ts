/** The client credentials grant (RFC 6749 §4.4, OAuth 2.1 §4.2): a token for the client itself, for one resource. */
import { Data, Effect } from "effect"
import * as Audience from "../Audience.js"
import type { Client } from "../Client.js"
import * as Client_ from "../Client.js"
import type { Realm } from "../Realm.js"
import { Resources } from "../Resources.js"
import * as TokenSet from "./TokenSet.js"

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
  readonly context: TokenSet.RequestContext
}

export const handle = Effect.fn("ClientCredentialsGrant.handle")(function*(cmd: Command) {
  // RFC 6749 §4.4.2: the client MUST authenticate; a public client cannot (registration refuses the pair too)
  if (!Client_.isConfidential(cmd.client.metadata)) return yield* new ClientRejected({ reason: "public_client" })
  const choice = yield* Audience.forClient({
    requestedResource: cmd.resource,
    clientResources: cmd.client.metadata.resources,
    clientScopes: cmd.client.metadata.scope?.split(" "),
    requestedScopes: cmd.scope,
    resources: yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))
  })
  // RFC 9068 §2.2: with no resource owner, `sub` is the client's own id
  // RFC 6749 §4.4.3: no refresh token; there is no person, so no ID token
  return yield* TokenSet.issueClientToken({
    realm: cmd.realm,
    issuer: cmd.issuer,
    client: cmd.client,
    sub: cmd.client.clientId,
    choice,
    grantType,
    context: cmd.context
  })
})
