/** Realm issuers under the one public origin (CONTRACT §2: `$TESSERA_PUBLIC_URL/realms/<name>`). */
import * as HttpRouter from "@effect/platform/HttpRouter"
import { Effect } from "effect"
import { Provisioning, Realm } from "@tessera/domain"
import { ErrorResponse } from "@tessera/protocol"
import { AppConfig } from "../AppConfig.js"

export const of = (realmName: string) => Effect.map(AppConfig, (config) => `${config.publicUrl}/realms/${realmName}`)

/** The realm named by the `:realm` path parameter, or `onMissing` when there is none by that name. */
export const realmParam = (onMissing: ErrorResponse.ErrorResponse) =>
  Effect.gen(function*() {
    const name = (yield* HttpRouter.params)["realm"] ?? ""
    if (!Realm.namePattern.test(name)) return yield* onMissing
    return yield* Provisioning.findRealm(name).pipe(
      Effect.catchTag("RealmNotFound", () => Effect.fail(onMissing))
    )
  })

/** CONTRACT §2: an unknown realm on the protocol endpoints. */
export const unknownRealm = ErrorResponse.make("invalid_request", "unknown realm", 404)

