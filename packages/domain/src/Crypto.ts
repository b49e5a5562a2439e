/**
 * The platform's SHA-256 and JWS signatures (RFC 7515 §5.1, RFC 7518 §3.3 RS256 and §3.4 ES256). The default is
 * WebCrypto, which runs anywhere (the domain imports no `node:`) but answers every call through a thread-pool job and
 * a promise; server-node provides node:crypto's synchronous functions, which give the same bytes for a fraction of
 * the CPU (docs/performance.md). A reference with a default, so using it adds no requirement.
 */
import { Context, Effect } from "effect"
import * as Base64Url from "./Base64Url.js"
import * as Sha256 from "./Sha256.js"
import type { Alg } from "./SigningKey.js"

export interface Shape {
  readonly sha256: (data: Uint8Array) => Effect.Effect<Uint8Array>
  /**
   * base64url(SHA-256(the UTF-8 bytes of `text`)), synchronously: for a caller hashing thousands of texts in a loop
   * (the audit chain's verification, ADR 0042), where an Effect or a promise per text costs more than the hash itself.
   * Every implementation has it and answers what `sha256` answers for the same bytes: node:crypto's one-shot `hash`
   * in server-node, the portable `Sha256` (FIPS 180-4 in JavaScript) in `webCrypto`, which has no synchronous digest.
   */
  readonly sha256Text: (text: string) => string
  /** A private JWK opened for signing with `alg`; what it returns is only ever passed back to `sign`. */
  readonly importSigningKey: (jwk: JsonWebKey, alg: Alg) => Effect.Effect<unknown>
  /** The JWS signature of `input`: RSASSA-PKCS1-v1_5 with SHA-256, or ECDSA P-256 with SHA-256 as R || S. */
  readonly sign: (key: unknown, alg: Alg, input: Uint8Array) => Effect.Effect<Uint8Array>
}

const algorithms = {
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } }
} as const

const encoder = new TextEncoder()

/**
 * WebCrypto (`crypto.subtle`): ECDSA signatures come as R || S already (WebCrypto's only form). `sha256Text` is the
 * portable `Sha256`: WebCrypto's digest answers only through a promise.
 */
export const webCrypto: Shape = {
  sha256: (data) =>
    Effect.promise(() => crypto.subtle.digest("SHA-256", new Uint8Array(data))).pipe(Effect.map((digest) => new Uint8Array(digest))),
  sha256Text: (text) => Base64Url.encode(Sha256.digest(encoder.encode(text))),
  importSigningKey: (jwk, alg) => Effect.promise(() => crypto.subtle.importKey("jwk", jwk, algorithms[alg].import, false, ["sign"])),
  sign: (key, alg, input) =>
    Effect.promise(() => crypto.subtle.sign(algorithms[alg].sign, key as CryptoKey, new Uint8Array(input))).pipe(
      Effect.map((signature) => new Uint8Array(signature))
    )
}

export class Crypto extends Context.Reference<Crypto>()("@tessera/domain/Crypto", { defaultValue: (): Shape => webCrypto }) {}
