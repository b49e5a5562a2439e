/**
 * The platform's SHA-256 and JWS signatures (RFC 7515 §5.1, RFC 7518 §3.3 RS256 and §3.4 ES256). The default is
 * WebCrypto, which runs anywhere (the domain imports no `node:`) but answers every call through a thread-pool job and
 * a promise; server-node provides node:crypto's synchronous functions, which give the same bytes for a fraction of
 * the CPU (docs/performance.md). A reference with a default, so using it adds no requirement.
 */
import { Context, Effect } from "effect"
import type { Alg } from "./SigningKey.js"

export interface Shape {
  readonly sha256: (data: Uint8Array) => Effect.Effect<Uint8Array>
  /** A private JWK opened for signing with `alg`; what it returns is only ever passed back to `sign`. */
  readonly importSigningKey: (jwk: JsonWebKey, alg: Alg) => Effect.Effect<unknown>
  /** The JWS signature of `input`: RSASSA-PKCS1-v1_5 with SHA-256, or ECDSA P-256 with SHA-256 as R || S. */
  readonly sign: (key: unknown, alg: Alg, input: Uint8Array) => Effect.Effect<Uint8Array>
}

const algorithms = {
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } }
} as const

/** WebCrypto (`crypto.subtle`): ECDSA signatures come as R || S already (WebCrypto's only form). */
export const webCrypto: Shape = {
  sha256: (data) =>
    Effect.promise(() => crypto.subtle.digest("SHA-256", new Uint8Array(data))).pipe(Effect.map((digest) => new Uint8Array(digest))),
  importSigningKey: (jwk, alg) => Effect.promise(() => crypto.subtle.importKey("jwk", jwk, algorithms[alg].import, false, ["sign"])),
  sign: (key, alg, input) =>
    Effect.promise(() => crypto.subtle.sign(algorithms[alg].sign, key as CryptoKey, new Uint8Array(input))).pipe(
      Effect.map((signature) => new Uint8Array(signature))
    )
}

export class Crypto extends Context.Reference<Crypto>()("@tessera/domain/Crypto", { defaultValue: (): Shape => webCrypto }) {}
