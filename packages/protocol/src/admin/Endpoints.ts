/** What every admin API group shares in the OpenAPI document: the realm path parameter, error bodies, the caller's credential. */
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import { Schema } from "effect"
import { ErrorCode } from "../ErrorResponse.js"

export const realm = HttpApiSchema.param("realm", Schema.String)

/** CONTRACT §3: `{"error", "error_description"}` with a 4xx status. */
export const ErrorBody = (status: number) =>
  Schema.Struct({ error: ErrorCode, error_description: Schema.optional(Schema.String) }).pipe(
    (s) => s.annotations(HttpApiSchema.annotations({ status }))
  )

/** The owner's bearer token (`TESSERA_ADMIN_TOKEN`): declared for the document; checked by the routes. */
export class Owner extends HttpApiMiddleware.Tag<Owner>()("Owner", { security: { owner: HttpApiSecurity.bearer } }) {}

export const created = <S extends Schema.Schema.Any>(schema: S) => schema.annotations(HttpApiSchema.annotations({ status: 201 })) as S

/** 204 No Content. */
export const noContent = HttpApiSchema.NoContent
