/**
 * Client authentication at the token, introspection, revocation and device authorization endpoints, on the HTTP side:
 * the credentials read off the request (protocol `ClientAuthentication.extract`), the client looked up
 * (`ClientLookup`), the policy applied (domain `ClientAuth.authenticate`), and its one refusal, invalid_client.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Either } from "effect"
import { ClientAuth, Endpoints, JwtAssertion } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { ClientAuthentication } from "@tessera/protocol"
import type { Form } from "@tessera/protocol"
import * as ClientLookup from "./ClientLookup.js"

/** RFC 8414 §2: the three endpoints, how clients authenticate at each, and the assertion algorithms. */
export const metadata = (issuer: string) => ({
  token_endpoint: Endpoints.token(issuer),
  token_endpoint_auth_methods_supported: ClientAuth.methods,
  token_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms,
  introspection_endpoint: Endpoints.introspection(issuer),
  introspection_endpoint_auth_methods_supported: ClientAuth.authenticatingMethods,
  introspection_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms,
  revocation_endpoint: Endpoints.revocation(issuer),
  revocation_endpoint_auth_methods_supported: ClientAuth.methods,
  revocation_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms
})

/** The one `error_description` of every client authentication failure. */
export const failed = "client authentication failed"

/**
 * RFC 6749 §5.2: 401 invalid_client with the Basic challenge (`ClientAuthentication.invalidClient`). One answer, the
 * same status, bytes and headers, whatever failed: an unknown client, a wrong secret, another method than the one
 * registered, a bad assertion or malformed credentials all read alike, so the answer says neither that a client
 * exists nor how it authenticates (ADR 0028). The reason goes to the log.
 */
export const invalidClient = (issuer: string) => (_failure: ClientAuth.ClientAuthFailed) => ClientAuthentication.invalidClient(issuer, failed)

/** Reads the credentials of a request whose form is `params` and authenticates the client (domain `ClientAuth`). */
export const fromRequest = (input: {
  readonly realm: Realm.Realm
  readonly issuer: string
  readonly params: Form.Params
  /** Whether a public client naming itself (`none`) is enough at this endpoint. */
  readonly allowNone: boolean
}) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const extracted = ClientAuthentication.extract({ authorization: request.headers["authorization"], params: input.params }, input.issuer)
    // credentials that are not credentials fail as every other client authentication does (invalidClient); a
    // malformed request (a repeated parameter, two methods at once) stays invalid_request
    const credentials = yield* Either.mapLeft(extracted, (refused) =>
      refused.error === "invalid_client"
        ? new ClientAuth.ClientAuthFailed({ reason: "credentials_malformed", detail: refused.error_description ?? "" })
        : refused)
    return yield* ClientAuth.authenticate({
      realm: input.realm,
      issuer: input.issuer,
      credentials,
      allowNone: input.allowNone,
      // a registered client, or the one a client ID metadata document names (MCP "Client ID Metadata Documents")
      find: (clientId) => ClientLookup.find(input.realm, clientId)
    })
  })
