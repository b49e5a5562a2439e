/** Field schemas shared by the admin API's nouns. */
import { Schema } from "effect"
import { field } from "../Body.js"
import * as RedirectUri from "../RedirectUri.js"
import * as ScopeToken from "../ScopeToken.js"

export const DisplayName = field(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)), "must be a string of 1 to 200 characters")

export const noControlOrSpace = /^[^\s\p{Cc}]+$/u

export const absoluteUri = RedirectUri.isAbsoluteWithoutFragment

export const Scopes = field(
  Schema.Array(Schema.String.pipe(Schema.filter(ScopeToken.isToken))).pipe(
    Schema.filter((scopes) => new Set(scopes).size === scopes.length)
  ),
  "must be an array of distinct scope tokens (RFC 6749 §3.3)"
)
