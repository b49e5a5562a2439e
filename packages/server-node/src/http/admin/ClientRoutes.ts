/** CONTRACT §3 clients: RFC 7591 metadata, validated as dynamic registration validates it. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { DateTime, Effect, Option } from "effect"
import { Provisioning } from "@tessera/domain"
import { ClientMetadata } from "@tessera/protocol"
import { fromEither, json, jsonBody } from "../Respond.js"
import { admin, realmName } from "./Auth.js"

const createClient = admin(Effect.gen(function*() {
  const name = yield* realmName
  const metadata = yield* fromEither(ClientMetadata.validate(yield* jsonBody))
  const { client, secret } = yield* Provisioning.registerClient(name, metadata)
  return json(ClientMetadata.toResponse({
    clientId: client.clientId,
    ...(Option.isSome(secret) ? { clientSecret: secret.value } : {}),
    issuedAt: Math.floor(DateTime.toEpochMillis(client.createdAt) / 1000),
    metadata
  }), 201)
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/clients", createClient)
] as const
