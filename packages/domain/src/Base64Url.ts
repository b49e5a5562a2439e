/** RFC 4648 §5 base64url without padding, as JOSE and OAuth use it: Node's Buffer where there is one, else portable code. */

/** Node's Buffer, when the platform has it (its base64url is RFC 4648 §5 without padding). */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer

/** The portable encoder (no Buffer), as browsers and other platforms run it. */
export const encodePortable = (bytes: Uint8Array): string => {
  let binary = ""
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

export const encode = (bytes: Uint8Array): string =>
  NodeBuffer !== undefined ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url") : encodePortable(bytes)

const encoder = new TextEncoder()

/** The base64url of a string's UTF-8 bytes. */
export const encodeText = (text: string): string =>
  NodeBuffer !== undefined ? NodeBuffer.from(text, "utf8").toString("base64url") : encodePortable(encoder.encode(text))

export const decode = (text: string): Uint8Array => {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}
