/**
 * The client a `client_id` names: a registered client, or a client ID metadata document when the id is an http(s)
 * URL (never looked up among registered clients: Tessera's own ids never start with `https://`). One lookup for the
 * authorization, token, revocation, introspection and logout endpoints (MCP "Client ID Metadata Documents": the
 * client is recognised on every leg, not only at the authorization endpoint).
 */
import { Effect, Option } from "effect"
import { Clients } from "@tessera/domain"
import type { Client, Realm, StoreError } from "@tessera/domain"
import { ClientIdMetadataDocument } from "@tessera/protocol"
import { ClientDocuments, type DocumentRejected } from "../ClientDocuments.js"

/** The client, `None` for an unknown registered id, or `DocumentRejected` for a document URL that names none. */
export const resolve = (
  realm: Realm.Realm,
  clientId: string
): Effect.Effect<Option.Option<Client.Client>, StoreError.StoreError | DocumentRejected, Clients.Clients | ClientDocuments> =>
  ClientIdMetadataDocument.isDocumentUrl(clientId)
    ? Effect.flatMap(ClientDocuments, (documents) => Effect.map(documents.resolve(realm, clientId), Option.some))
    : Effect.flatMap(Clients.Clients, (clients) => clients.find(realm.id, clientId))

/** As `resolve`, a document that names no client being no client (its reason is logged). */
export const find = (realm: Realm.Realm, clientId: string) =>
  resolve(realm, clientId).pipe(
    Effect.catchTag("DocumentRejected", (e) =>
      Effect.logInfo("client metadata document refused", e.reason, e.detail).pipe(Effect.as(Option.none())))
  )
